"""Two steps of a batch at once, neither outliving the step.

answer = await alongside(self._creates(...), self._intend(...))
"""

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


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
