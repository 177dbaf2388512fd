"""Status writes, and what is done when the API server refuses one as invalid.

An installed CRD may not accept a status this operator writes (the Kubeflow Spark Operator's CRDs
are stricter in places than sparkfleet's own). Such a refusal (422) is deterministic: the same write
would be refused again, so it is not retried. It is said loudly instead: an error log naming the
object and the fields, ``sparkfleet_status_writes_rejected_total``, and a Warning Event on the
object, so no application is stuck without a word.
"""

from __future__ import annotations

import logging
from typing import Any

from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.events import EventRecorder
from sparkfleet.kube.resources import Resource
from sparkfleet.operator.spark import metrics

log = logging.getLogger(__name__)

REASON_REJECTED = "StatusUpdateRejected"


async def replace_status(
    client: KubeClient, events: EventRecorder, resource: Resource, raw: dict[str, Any], status: dict[str, Any]
) -> bool:
    """Writes ``status`` with a compare-and-swap on ``raw``'s resourceVersion. False when the API
    server refused it as invalid (said, counted, not raised); a conflict or any other error raises."""
    try:
        await client.put_status(resource, {**raw, "status": status})  # its answer is not read
    except ApiError as exc:
        if exc.status != 422:
            raise
        _refused(events, raw, resource, exc)
        return False
    return True


def refused_fields(exc: ApiError) -> list[str]:
    """The fields an API server's 422 answer names (its ``details.causes``)."""
    causes = (exc.body.get("details") or {}).get("causes") or []
    return sorted({str(c["field"]) for c in causes if isinstance(c, dict) and c.get("field")})


def _refused(events: EventRecorder, raw: dict[str, Any], resource: Resource, exc: ApiError) -> None:
    meta = raw["metadata"]
    log.error(
        "the API server refused a status write",
        extra={"key": f"{meta['namespace']}/{meta['name']}", "resource": resource.plural,
               "fields": refused_fields(exc), "error": exc.message},
    )  # fmt: skip
    metrics.STATUS_WRITES_REJECTED.labels(resource.plural, meta["namespace"]).inc()
    events.emit(raw, "Warning", REASON_REJECTED, f"the API server refused the status: {exc.message}")
