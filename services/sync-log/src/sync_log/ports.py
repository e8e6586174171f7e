"""What the service and its query API need from the outside world."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sync_log.api_models import (
    BatchReport,
    Connection,
    EntryPage,
    InvoiceDetail,
    InvoicePage,
    OrgStatsPage,
    Stats,
)
from sync_log.domain import ConnectionChange, InvoiceState
from sync_log.queries import Cursor, Filters


class SyncLogStore(Protocol):
    async def insert_entries(self, entries: Sequence[dict[str, Any]]) -> dict[str, datetime]:
        """Store new entries; return the repeated event ids with their first recorded time."""

    async def load_states(self, keys: Iterable[str]) -> dict[str, InvoiceState]: ...

    async def save_states(self, states: Iterable[InvoiceState], now: datetime) -> set[str]:
        """Compare-and-set by revision; the keys whose write lost to another writer."""
        ...

    async def save_connection(self, change: ConnectionChange) -> None: ...


class SyncLogReader(Protocol):
    """The query API's reads, answered in its own models (``api_models.py``)."""

    async def entries(self, filters: Filters, limit: int, cursor: Cursor | None) -> EntryPage:
        """Log entries, newest first."""

    async def invoices(self, filters: Filters, limit: int, cursor: Cursor | None) -> InvoicePage:
        """Invoices by current status, most recently changed first."""

    async def invoice(self, org_id: str, invoice_id: str) -> InvoiceDetail | None:
        """One invoice's current status and every entry, oldest first; None if unknown."""

    async def stats(self, org_id: str | None, since: datetime | None) -> Stats:
        """Invoices counted by current status and by error code."""

    async def stats_by_org(self) -> OrgStatsPage:
        """Invoices counted by current status, one row per organisation."""

    async def batch(self, batch_id: str) -> BatchReport | None:
        """A bulk resync's report; None when no invoice of the batch is recorded."""

    async def connections(self, org_id: str | None) -> list[Connection]:
        """Xero connection status per organisation."""
