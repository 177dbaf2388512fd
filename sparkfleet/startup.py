"""What an instance checks before it starts: that the API server answers (a bounded wait), and that
the namespaces ``--namespaces`` names exist (a warning only: one may be created later).

A problem no retry can heal (a certificate the kubeconfig does not trust, refused credentials) is
:class:`KubeConfigError` at once; an API server that does not answer within ``--startup-timeout``
is :class:`ApiServerUnreachable`, one line naming the server and why, and the process exits non-zero
(its supervisor restarts it, as a pod in CrashLoopBackOff says plainly what is wrong).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence

import aiohttp

from sparkfleet.kube import ApiError, KubeClient, KubeConfigError
from sparkfleet.kube.errors import unreachable
from sparkfleet.kube.resources import NAMESPACES

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.5
LONGEST_RETRY_SECONDS = 5.0


class ApiServerUnreachable(Exception):
    """The API server did not answer at start-up; the message names it and says why."""

    def __init__(self, host: str, reason: str, waited: float | None = None):
        self.host, self.reason, self.waited = host, reason, waited
        after = f" (waited {waited:g}s, see --startup-timeout)" if waited else ""
        super().__init__(f"cannot reach the API server at {host}: {reason}{after}")


async def check_api_server(client: KubeClient) -> str | None:
    """One request (``GET /version``): None when the API server answers, else why it does not.

    A server certificate the kubeconfig does not trust and credentials the API server refuses
    (401) raise :class:`KubeConfigError`: no retry heals them. Another refusal (403: RBAC may
    grant /version to nobody) counts as an answer.
    """
    try:
        await client.request("GET", "/version")
    except aiohttp.ClientConnectorCertificateError as exc:
        raise KubeConfigError(
            f"the API server at {client.host} presents a certificate the kubeconfig's certificate-authority "
            f"does not trust ({exc.certificate_error})"
        ) from exc
    except ApiError as exc:
        if exc.status == 401:
            raise KubeConfigError(
                f"the API server at {client.host} refused the kubeconfig's credentials (401 {exc.reason})"
            ) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        return why_unreachable(exc)
    return None


def why_unreachable(error: BaseException) -> str:
    """Why a request got no answer, short: ``connection refused`` rather than aiohttp's sentence
    (``Cannot connect to host 127.0.0.1:1 ssl:default [Connect call failed ('127.0.0.1', 1)]``)."""
    code = error.os_error.errno if isinstance(error, aiohttp.ClientConnectorError) else None
    if code is not None and code > 0:
        return os.strerror(code).lower()
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    return unreachable(error)


def retry_delays(
    first: float = FIRST_RETRY_SECONDS, longest: float = LONGEST_RETRY_SECONDS
) -> Iterator[float]:
    """The waits between attempts: doubling from ``first``, at most ``longest``."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, longest)


async def wait_for_api_server(client: KubeClient, timeout: float) -> None:
    """Until the API server answers; at most ``timeout`` seconds (0: as long as it takes).

    Logs one warning when the first attempt gets no answer (and one line when it answers after
    all); raises :class:`ApiServerUnreachable` when ``timeout`` passes without an answer."""
    started = time.monotonic()
    reason = "no answer"
    try:
        async with asyncio.timeout(timeout or None):
            answer = await check_api_server(client)
            if answer is None:
                return
            reason = answer
            log.warning(
                "the API server does not answer yet; waiting for it",
                extra={"host": client.host, "error": reason, "timeout_s": timeout or "none"},
            )
            for delay in retry_delays():
                await asyncio.sleep(delay)
                answer = await check_api_server(client)
                if answer is None:
                    waited = round(time.monotonic() - started, 1)
                    log.info("the API server answers", extra={"host": client.host, "waited_s": waited})
                    return
                reason = answer
    except TimeoutError:
        raise ApiServerUnreachable(client.host, reason, timeout) from None


def missing(wanted: Sequence[str], existing: Iterable[str]) -> list[str]:
    """The names of ``wanted`` not in ``existing``, in the order given, each once."""
    present = set(existing)
    return [name for name in dict.fromkeys(wanted) if name not in present]


async def existing_namespaces(client: KubeClient, names: Sequence[str]) -> set[str] | None:
    """Which of ``names`` exist: one LIST of the namespaces, or, where RBAC allows no list, a GET of
    each (a ClusterRole may grant ``get`` on named namespaces only). None: the operator may not tell."""
    try:
        items, _ = await client.list_all(NAMESPACES)
        return {item["metadata"]["name"] for item in items}
    except ApiError as exc:
        if not exc.is_forbidden:
            raise

    async def exists(name: str) -> bool | None:
        try:
            await client.get(NAMESPACES, name)
        except ApiError as exc:
            if exc.is_not_found:
                return False
            if exc.is_forbidden:
                return None
            raise
        return True

    answers = await asyncio.gather(*(exists(name) for name in names))
    if any(answer is None for answer in answers):
        return None
    return {name for name, answer in zip(names, answers, strict=True) if answer}


async def warn_missing_namespaces(client: KubeClient, names: Sequence[str]) -> list[str]:
    """Logs one warning naming the namespaces of ``--namespaces`` that do not exist (the instance
    serves them once created); returns them. Says nothing when the operator may not read namespaces."""
    if not names:
        return []
    try:
        existing = await existing_namespaces(client, names)
    except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.debug("could not check that the --namespaces exist", extra={"error": unreachable(exc)})
        return []
    if existing is None:
        log.debug("could not check that the --namespaces exist: namespaces may not be read")
        return []
    absent = missing(names, existing)
    if absent:
        log.warning(
            "--namespaces names namespaces that do not exist (yet); they are served once created",
            extra={"namespaces": ",".join(absent)},
        )
    return absent
