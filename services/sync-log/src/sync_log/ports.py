"""What the service needs from the outside world."""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from service_kit.events import RawRecord
from sync_log.domain import ConnectionChange, InvoiceState
from sync_schemas import EnvelopeError


class SyncLogStore(Protocol):
    async def insert_entries(self, entries: Sequence[dict[str, Any]]) -> dict[str, datetime]:
        """Store new entries; return the repeated event ids with their first recorded time."""

    async def load_states(self, keys: Iterable[str]) -> dict[str, InvoiceState]: ...

    async def save_states(self, states: Iterable[InvoiceState], now: datetime) -> set[str]:
        """Compare-and-set by revision; the keys whose write lost to another writer."""
        ...

    async def save_connection(self, change: ConnectionChange) -> None: ...


DeadLetter = Callable[[RawRecord, EnvelopeError], Awaitable[None]]
Clock = Callable[[], datetime]
