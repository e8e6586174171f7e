"""Steps of a batch at once, none outliving the step.

answer = await alongside(self._creates(...), self._intend(...))
settings, records = await together(config.settings(org), records.get_many(org, ids))
"""

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar, overload

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")


async def alongside(main: Awaitable[T], side: Coroutine[Any, Any, Any]) -> T:
    """``main``'s answer, with ``side`` running meanwhile. A failure of ``main`` cancels
    ``side``; a failure of ``side`` is raised once ``main`` is done. Either way neither goes on
    after the step (no write outlives its batch), and the exception raised is the step's own,
    not a group (callers tell ``RetryLater`` from a bug)."""
    task = asyncio.ensure_future(side)
    try:
        answer = await main
    except BaseException:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    await task
    return answer


@overload
async def together(a: Awaitable[A], b: Awaitable[B], /) -> tuple[A, B]: ...


@overload
async def together(a: Awaitable[A], b: Awaitable[B], c: Awaitable[C], /) -> tuple[A, B, C]: ...


async def together(*steps: Awaitable[Any]) -> tuple[Any, ...]:
    """Every step's answer, in order. The first failure cancels the others and is raised once
    they have stopped: nothing goes on after the step, and the exception is the failing
    step's own, not a group."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return tuple(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
