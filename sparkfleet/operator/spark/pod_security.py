"""The securityContext defaults that make the driver and executor pods pass the ``restricted``
Pod Security Standard, unless the spec asks for more.

Pure: :func:`harden` takes a rendered pod spec and returns it with the Spark container's
securityContext filled in. It fills only what the user left unset, field by field:

- ``allowPrivilegeEscalation: false``, unless the user set it, or set ``privileged: true`` or
  added ``SYS_ADMIN`` (the API server refuses ``false`` with either);
- ``capabilities: {drop: [ALL]}``, only when the user gave no ``capabilities`` at all: an
  ``add``/``drop`` pair is one capability set, and filling ``drop`` under a user's ``add`` would
  silently take away the runtime's defaults they meant to keep;
- ``runAsNonRoot: true``, unless set in the container or the pod's securityContext, or a
  ``runAsUser: 0`` there asks for root (the kubelet refuses a root user with it);
- ``runAsUser: 185``, Spark's image user, with that ``runAsNonRoot`` and when no ``runAsUser`` is
  set in the container or the pod: Spark's image may name its user (``USER spark``), and a kubelet
  checks ``runAsNonRoot`` only against a numeric user (an image of another user sets its own
  ``runAsUser``, or ``runAsNonRoot``, in ``spec.<role>.securityContext``);
- ``seccompProfile: {type: RuntimeDefault}``, unless set in the container or the pod.

Where the user's values come from: ``spec.<role>.securityContext`` replaces the template
container's (as Kubeflow's webhook replaces the container's securityContext whole), and
``spec.<role>.podSecurityContext`` the template's pod securityContext; the defaults then fill what
is still unset. Only the Spark container is filled: sidecars and init containers are the user's,
left as written (their images may need root or capabilities; a restricted namespace judges them).
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]

SPARK_UID = 185
"""The user of Spark's images (``spark``, uid 185)."""
_ESCALATING_CAPABILITIES = frozenset({"SYS_ADMIN", "CAP_SYS_ADMIN"})


def container_defaults(container: Obj | None, pod: Obj | None) -> Obj:
    """The fields :func:`harden` adds to a container's securityContext (``container``) in a pod whose
    securityContext is ``pod``; the user's own fields are not in it."""
    mine, theirs = container or {}, pod or {}
    added: Obj = {}
    caps = mine.get("capabilities") or {}
    added_caps = {str(c).upper() for c in caps.get("add") or []}
    if (
        "allowPrivilegeEscalation" not in mine
        and not mine.get("privileged")
        and not added_caps & _ESCALATING_CAPABILITIES
    ):
        added["allowPrivilegeEscalation"] = False
    if "capabilities" not in mine:
        added["capabilities"] = {"drop": ["ALL"]}
    user = mine.get("runAsUser", theirs.get("runAsUser"))
    if "runAsNonRoot" not in mine and "runAsNonRoot" not in theirs and user != 0:
        added["runAsNonRoot"] = True
        if user is None:
            added["runAsUser"] = SPARK_UID
    if "seccompProfile" not in mine and "seccompProfile" not in theirs:
        added["seccompProfile"] = {"type": "RuntimeDefault"}
    return added


def harden(pod_spec: Obj, container_name: str) -> Obj:
    """``pod_spec`` with the container ``container_name`` given :func:`container_defaults`; a copy
    where anything changes, ``pod_spec`` itself is never mutated."""
    containers = pod_spec.get("containers") or []
    result: Obj | None = None
    for i, container in enumerate(containers):
        if not isinstance(container, dict) or container.get("name") != container_name:
            continue
        current = container.get("securityContext") or {}
        added = container_defaults(current, pod_spec.get("securityContext"))
        if added:
            if result is None:
                result = {**pod_spec, "containers": list(containers)}
            result["containers"][i] = {**container, "securityContext": {**copy.deepcopy(current), **added}}
    return pod_spec if result is None else result
