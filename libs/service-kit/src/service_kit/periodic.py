"""Periodic jobs: run a coroutine every so often until cancelled, and survive its failures.

    task = asyncio.create_task(every(30, sweep, name="sweep", quiet=(Unavailable,)))

A failed run is logged (an exception named in ``quiet`` as a warning: an outage, expected)
and the next run retries; cancelling the task stops it.
"""

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


async def every(
    interval_s: float,
    job: Callable[[], Awaitable[object]],
    *,
    name: str,
    quiet: tuple[type[Exception], ...] = (),
    first_delay_s: float | None = None,
) -> None:
    """Run ``job`` every ``interval_s`` seconds, the first time after ``first_delay_s``
    (by default one interval)."""
    await asyncio.sleep(interval_s if first_delay_s is None else first_delay_s)
    while True:
        try:
            await job()
        except quiet as error:
            log.warning("periodic.unavailable", job=name, error=str(error))
        except Exception:
            log.exception("periodic.failed", job=name)
        await asyncio.sleep(interval_s)
