"""Steps of a batch at once: answers in order, the first failure stops the rest and is raised
as itself."""

import asyncio

import pytest
from structlog.testing import capture_logs

from service_kit.errors import RetryLater
from xero_connector.sync.concurrent import alongside, every, together


async def test_together_answers_each_step_in_order_and_runs_them_at_once() -> None:
    started: list[str] = []
    both = asyncio.Event()

    async def step(name: str) -> str:
        started.append(name)
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 1)  # only returns once the other has begun
        return name

    assert await together(step("settings"), step("records")) == ("settings", "records")


async def test_the_first_failure_cancels_the_other_step_and_is_raised_alone() -> None:
    cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def outage() -> None:
        await asyncio.sleep(0)
        raise RetryLater("the store is down")

    with pytest.raises(RetryLater, match="the store is down"):
        await together(slow(), outage())
    assert cancelled.is_set()


async def test_every_runs_its_steps_at_once_and_the_first_failure_stops_the_rest() -> None:
    started: list[int] = []
    three = asyncio.Event()
    cancelled: list[int] = []

    async def lane(n: int, fail: bool = False) -> None:
        started.append(n)
        if len(started) == 3:
            three.set()
        await asyncio.wait_for(three.wait(), 1)  # only goes on once all three have begun
        if fail:
            raise RetryLater("Xero is unavailable")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise

    with pytest.raises(RetryLater, match="Xero is unavailable"):
        await every(lane(1), lane(2, fail=True), lane(3))
    assert sorted(started) == [1, 2, 3] and sorted(cancelled) == [1, 3]


async def test_a_side_step_not_cut_short_finishes_when_the_main_step_fails() -> None:
    finished: list[str] = []

    async def record() -> None:
        for _ in range(5):  # still running when the main step fails
            await asyncio.sleep(0)
        finished.append("recorded")

    async def prepare() -> None:
        raise RetryLater("Xero is unavailable")

    with pytest.raises(RetryLater, match="Xero is unavailable"):
        await alongside(prepare(), record(), cut_short=False)
    assert finished == ["recorded"]
    finished.clear()
    with pytest.raises(RetryLater):
        await alongside(prepare(), record())  # cut short by default
    for _ in range(10):
        await asyncio.sleep(0)
    assert finished == []


async def test_the_main_steps_failure_is_raised_over_the_side_steps() -> None:
    async def record() -> None:
        await asyncio.sleep(0)
        raise RetryLater("the store is down")

    async def prepare() -> None:
        raise ValueError("a bug")

    with capture_logs() as logs, pytest.raises(ValueError, match="a bug"):
        await alongside(prepare(), record(), cut_short=False)
    assert [(e["event"], "the store is down" in e["error"]) for e in logs] == [
        ("step.side_failed", True)
    ]
