"""tests.support.eventually: the one polling helper of the tests (no waiting here: interval 0)."""

from __future__ import annotations

import pytest

from tests.support import eventually


async def test_returns_the_first_true_value_of_a_sync_check() -> None:
    values = iter([0, None, {}, {"ready": True}])
    assert await eventually(lambda: next(values), what="ready", interval=0) == {"ready": True}


async def test_awaits_an_async_check() -> None:
    calls = 0

    async def third_time() -> int:
        nonlocal calls
        calls += 1
        return calls if calls >= 3 else 0

    assert await eventually(third_time, what="the third call", interval=0) == 3


async def test_fails_naming_what_was_awaited_and_the_last_value() -> None:
    with pytest.raises(
        AssertionError, match=r"timed out after 0s waiting for the pod to run: the check last was \[\]"
    ):
        await eventually(lambda: [], what="the pod to run", timeout=0, interval=0)


async def test_the_failure_says_what_seen_reports() -> None:
    with pytest.raises(AssertionError, match=r"was False; saw \{'phase': 'Pending'\}"):
        await eventually(lambda: False, what="running", timeout=0, seen=lambda: {"phase": "Pending"})


async def test_an_exception_fails_at_once_unless_retried() -> None:
    calls = 0

    def flaky() -> bool:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise LookupError("not yet")
        return True

    with pytest.raises(LookupError):
        await eventually(flaky, what="found", interval=0)
    assert calls == 1
    assert await eventually(flaky, what="found", interval=0, retrying=(LookupError,))
    assert calls == 3


async def test_the_last_retried_exception_is_in_the_failure() -> None:
    def missing() -> bool:
        raise KeyError("the-app")

    with pytest.raises(
        AssertionError, match=r"waiting for the app: the check last raised KeyError\('the-app'\)"
    ) as failure:
        await eventually(missing, what="the app", timeout=0, retrying=(KeyError,))
    assert isinstance(failure.value.__cause__, KeyError)
