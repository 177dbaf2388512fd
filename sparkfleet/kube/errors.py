"""Errors from the API server, carrying the Status object's reason and message."""

from __future__ import annotations

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
        return self.status == 403


def unreachable(error: BaseException) -> str:
    """Why a request got no answer, on one line (a timeout's own message is empty)."""
    return " ".join(str(error).split()) or type(error).__name__
