"""Periodic jobs: run a coroutine every so often until cancelled, and survive its failures.

    task = asyncio.create_task(every(30, sweep, name="sweep"))

A failed run is logged (a :class:`RetryLater` or another exception named in ``quiet`` as a
warning: an outage, expected; anything else with its traceback) and the next run retries;
cancelling the task stops it.
"""

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from service_kit.errors import RetryLater

log = structlog.get_logger(__name__)


async def every(
    interval_seconds: float,
    job: Callable[[], Awaitable[object]],
    *,
    name: str,
    quiet: tuple[type[Exception], ...] = (RetryLater,),
    first_delay_seconds: float | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run ``job`` every ``interval_seconds`` seconds, the first time after ``first_delay_seconds``
    (by default one interval). ``sleep`` is the test seam."""
    await sleep(interval_seconds if first_delay_seconds is None else first_delay_seconds)
    while True:
        try:
            await job()
        except quiet as error:
            log.warning("periodic.unavailable", job=name, error=str(error))
        except Exception:
            log.exception("periodic.failed", job=name)
        await sleep(interval_seconds)
