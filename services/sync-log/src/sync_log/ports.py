"""What the service needs from the outside world."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sync_log.domain import ConnectionChange, InvoiceState


class SyncLogStore(Protocol):
    async def insert_entries(self, entries: Sequence[dict[str, Any]]) -> dict[str, datetime]:
        """Store new entries; return the repeated event ids with their first recorded time."""

    async def load_states(self, keys: Iterable[str]) -> dict[str, InvoiceState]: ...

    async def save_states(self, states: Iterable[InvoiceState], now: datetime) -> None: ...

    async def save_connection(self, change: ConnectionChange) -> None: ...
