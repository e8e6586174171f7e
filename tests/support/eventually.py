"""Wait for something that becomes true on its own: a consumer catching up, a server
starting, a retry coming due. One helper instead of a sleep loop per test.

    detail = await eventually(lambda: api.get_invoice(org, inv), timeout=30, what="the invoice")
    await eventually(synced_probe, what="inv_1 synced")      # a probe may also assert

The probe is called until it returns a truthy value (which ``eventually`` returns) or no
longer raises; after ``timeout`` seconds the test fails with ``what`` and the last value or
exception the probe gave, so a timeout says what was seen instead of only "timed out".
The timeout is a bound on waiting, never an assertion about speed: keep it generous.
Built on tenacity (``AsyncRetrying`` / ``Retrying``), so the retry policy is a library's.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

T = TypeVar("T")


def _falsy(value: object) -> bool:
    return not value


# A probe may assert (AssertionError is an Exception); cancellation is never retried.
_RETRY = retry_if_exception_type(Exception) | retry_if_result(_falsy)


def _timed_out(
    what: str, timeout: float, error: RetryError
) -> tuple[AssertionError, BaseException | None]:
    """The failure to raise, and the probe's last exception to chain it to."""
    last = error.last_attempt
    said = f"{what}: still not so after {timeout:g}s ({last.attempt_number} tries)"
    if last.failed:
        exc = last.exception()
        return AssertionError(f"{said}; last error: {exc!r}"), exc
    return AssertionError(f"{said}; last value: {last.result()!r}"), None


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """Await ``probe()`` until it gives a truthy value without raising; return that value."""
    retrying = AsyncRetrying(
        stop=stop_after_delay(timeout), wait=wait_fixed(interval), retry=_RETRY
    )

    async def attempt() -> T:
        # Awaited here: tenacity would take a lambda returning a coroutine for a plain
        # function and hand back the (truthy) coroutine object itself.
        return await probe()

    try:
        return await retrying(attempt)
    except RetryError as error:
        failure, cause = _timed_out(what, timeout, error)
    raise failure from cause


def eventually_sync(
    probe: Callable[[], T],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> T:
    """``eventually`` for blocking code (a server thread, a subprocess), outside an event loop."""
    retrying = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval), retry=_RETRY)
    try:
        return retrying(probe)
    except RetryError as error:
        failure, cause = _timed_out(what, timeout, error)
    raise failure from cause
