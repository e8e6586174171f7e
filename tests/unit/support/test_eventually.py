"""tests.support.eventually: waits for a probe, and says what it saw when it gives up."""

import pytest

from tests.support.eventually import eventually, eventually_sync


async def test_returns_the_first_truthy_value_after_falsy_values_and_errors() -> None:
    answers: list[object] = [None, ValueError("not yet"), [], {"status": "synced"}]

    async def probe() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await eventually(probe, what="synced", interval=0) == {"status": "synced"}
    assert answers == []


async def test_a_timeout_names_what_was_awaited_and_the_last_value() -> None:
    async def probe() -> dict[str, str]:
        return {}

    with pytest.raises(
        AssertionError, match=r"inv_1 synced: still not so after 0.05s .*last value: \{\}"
    ):
        await eventually(probe, what="inv_1 synced", timeout=0.05, interval=0.01)


async def test_a_timeout_chains_the_last_exception() -> None:
    async def probe() -> bool:
        raise KeyError("status")

    with pytest.raises(AssertionError, match=r"last error: KeyError\('status'\)") as caught:
        await eventually(probe, what="the entry", timeout=0.05, interval=0.01)
    assert isinstance(caught.value.__cause__, KeyError)


def test_the_blocking_variant_retries_an_assertion_until_it_holds() -> None:
    calls: list[int] = []

    def probe() -> bool:
        calls.append(1)
        assert len(calls) >= 3, "fewer than three calls"
        return True

    assert eventually_sync(probe, what="three calls", interval=0) is True
    assert len(calls) == 3
    with pytest.raises(AssertionError, match="last error: ZeroDivisionError"):
        eventually_sync(lambda: 1 / 0 > 0, what="never", timeout=0.05, interval=0.01)


async def test_a_lambda_returning_a_coroutine_is_awaited() -> None:
    values = iter([0, 0, 7])

    async def read() -> int:
        return next(values)

    assert await eventually(lambda: read(), what="seven", interval=0) == 7
