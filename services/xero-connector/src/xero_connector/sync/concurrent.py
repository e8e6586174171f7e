"""Steps of a batch at once, none outliving the step.

answer = await alongside(self._creates(...), self._intend(...))
(settings, mappings), records = await together(config.settings_and_mappings(org), ...)
await every(lane(), lane())
"""

import asyncio
from collections.abc import Awaitable, Collection, Coroutine
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


async def alongside(
    main: Awaitable[T], side: Coroutine[Any, Any, Any], *, cut_short: bool = True
) -> T:
    """``main``'s answer, with ``side`` running meanwhile. A failure of ``main`` cancels
    ``side`` (with ``cut_short=False``, lets it finish, and logs its own failure); a failure
    of ``side`` is raised once ``main`` is done. Either way neither goes on after the step (no
    write outlives its batch), and the exception raised is the step's own, not a group
    (callers tell ``RetryLater`` from a bug)."""
    task = asyncio.ensure_future(side)
    try:
        answer = await main
    except BaseException:
        if cut_short:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if not cut_short and not task.cancelled() and task.exception() is not None:
            log.warning("step.side_failed", error=repr(task.exception()))
        raise
    await task
    return answer


async def together(a: Awaitable[A], b: Awaitable[B], /) -> tuple[A, B]:
    """Both answers, in order. The first failure cancels the other step and is raised once it
    has stopped: nothing goes on after the step, and the exception is the failing step's own,
    not a group."""
    answer_a, answer_b = await _all([a, b])
    return answer_a, answer_b


async def every(*steps: Awaitable[Any]) -> None:
    """All of ``steps`` at once, failing as ``together`` does."""
    await _all(list(steps))


async def _all(steps: list[Awaitable[Any]]) -> list[Any]:
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        await stop_all(tasks)
        raise


async def stop_all(tasks: Collection[asyncio.Future[Any]]) -> None:
    """Cancel those of ``tasks`` still running and wait until every one has ended; their
    outcomes are left unraised (the caller raises its own)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
