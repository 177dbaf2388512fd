"""ignore_not_found / ignore_conflict swallow exactly their answer and nothing else."""

from __future__ import annotations

import pytest

from sparkfleet.kube.errors import ApiError, ignore_conflict, ignore_not_found


def _error(status: int) -> ApiError:
    return ApiError(status, "Reason", "message")


def test_ignore_not_found_swallows_404_only() -> None:
    with ignore_not_found():
        raise _error(404)
    for status in (403, 409, 500):
        with pytest.raises(ApiError), ignore_not_found():
            raise _error(status)


def test_ignore_conflict_swallows_409_only() -> None:
    with ignore_conflict():
        raise _error(409)
    for status in (404, 422):
        with pytest.raises(ApiError), ignore_conflict():
            raise _error(status)


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(ValueError, match="not an API answer"), ignore_not_found():
        raise ValueError("not an API answer")
