"""Errors from the API server, carrying the Status object's reason and message."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson


class ApiError(Exception):
    """A non-2xx answer from the API server."""

    def __init__(self, status: int, reason: str, message: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}

    @classmethod
    def from_response(cls, status: int, http_reason: str | None, raw: bytes) -> ApiError:
        body: dict[str, Any] = {}
        try:
            decoded = orjson.loads(raw) if raw else {}
            if isinstance(decoded, dict):
                body = decoded
        except orjson.JSONDecodeError:
            pass
        reason = str(body.get("reason") or http_reason or "")
        message = str(body.get("message") or raw[:200].decode(errors="replace"))
        return cls(status, reason, message, body)

    @property
    def is_not_found(self) -> bool:
        return self.status == 404

    @property
    def is_conflict(self) -> bool:
        return self.status == 409

    @property
    def is_gone(self) -> bool:
        return self.status == 410

    @property
    def is_forbidden(self) -> bool:
        """Any 403, including a namespace being terminated (see :attr:`is_denied`)."""
        return self.status == 403

    @property
    def is_namespace_terminating(self) -> bool:
        """The namespace is being deleted: the API server refuses to create anything new in it.

        Its NamespaceLifecycle admission answers 403 Forbidden, ``... is forbidden: unable to create
        new content in namespace NS because it is being terminated``, with a cause of type
        ``NamespaceTerminating``. Not an RBAC failure, and nothing to retry: the namespace, and
        whatever the operator was creating there for, is going away.
        """
        if self.status != 403:
            return False
        causes = (self.body.get("details") or {}).get("causes") or []
        if any(isinstance(c, dict) and c.get("reason") == NAMESPACE_TERMINATING for c in causes):
            return True
        return "because it is being terminated" in self.message

    @property
    def is_denied(self) -> bool:
        """A 403 that RBAC (or an admission policy) decided: the operator lacks a permission it uses."""
        return self.is_forbidden and not self.is_namespace_terminating


NAMESPACE_TERMINATING = "NamespaceTerminating"
"""The cause (``details.causes[].reason``) of the API server's 403 in a namespace being deleted."""


def unreachable(error: BaseException) -> str:
    """Why a request got no answer, on one line (a timeout's own message is empty)."""
    return " ".join(str(error).split()) or type(error).__name__


@contextlib.contextmanager
def ignore_not_found() -> Iterator[None]:
    """Swallows a 404 (the object is gone already: what a delete or a get-if-there wanted)."""
    try:
        yield
    except ApiError as exc:
        if not exc.is_not_found:
            raise


@contextlib.contextmanager
def ignore_conflict() -> Iterator[None]:
    """Swallows a 409 (someone else wrote first: the next reconcile starts from their write)."""
    try:
        yield
    except ApiError as exc:
        if not exc.is_conflict:
            raise
