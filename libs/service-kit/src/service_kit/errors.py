"""One word for "not now": :class:`RetryLater`.

A server a piece of work depends on (MongoDB, Kafka, another service) is down or too slow.
The work itself is fine and will succeed later, so a consumer sends the batch back (nack)
instead of dead-lettering it, an API answers 503, a periodic job logs a warning. Every other
exception is a bug.

Adapters translate their library's errors at their boundary, so nothing above them needs to
know pymongo or aiokafka:

    @retry_later_on(PyMongoError)        # every public coroutine method of the class
    class MongoStore: ...

    with retry_later_on(KafkaError, TimeoutError, as_=PublishFailed):
        await broker.publish(...)
"""

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError

T = TypeVar("T")


class RetryLater(Exception):
    """A dependency cannot do its part right now; the same work may succeed later.

    ``outcome`` names what a consumer does with the batch (metrics label and log event):
    subclasses that want the batch sent back for another reason override it."""

    outcome: ClassVar[str] = "redelivered"


# Failures of the servers a service depends on, untranslated: what an adapter turns into
# RetryLater, and what an API still answers 503 for when a route reaches a server directly.
OUTAGES: tuple[type[Exception], ...] = (PyMongoError, KafkaError, ConnectionError, TimeoutError)


class _Translator:
    """Both a context manager (``with``) and a class decorator; stateless, so one instance
    may guard any number of concurrent blocks."""

    def __init__(self, errors: tuple[type[Exception], ...], as_: type[RetryLater]) -> None:
        self._errors = errors
        self._as = as_

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        if isinstance(error, self._errors):
            raise self._as(f"{type(error).__name__}: {error}") from error

    def __call__(self, cls: type[T]) -> type[T]:
        for name, member in list(vars(cls).items()):
            if not name.startswith("_") and inspect.iscoroutinefunction(member):
                setattr(cls, name, self._wrap(member))
        return cls

    def _wrap(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def translated(*args: Any, **kwargs: Any) -> Any:
            with self:
                return await method(*args, **kwargs)

        return translated


def retry_later_on(*errors: type[Exception], as_: type[RetryLater] = RetryLater) -> _Translator:
    """Turn ``errors`` (by default :data:`OUTAGES`) into ``as_`` with the original as its
    cause: around a block (``with``) or around every public coroutine method of a class."""
    return _Translator(errors or OUTAGES, as_)
