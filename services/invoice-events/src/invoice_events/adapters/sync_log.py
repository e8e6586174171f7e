"""Client of the sync-log API: which invoices are in which state.

    async with SyncLogClient("http://127.0.0.1:8003", api_key, timeout_seconds=10) as sync_log:
        async for invoice_id in sync_log.invoice_ids(InvoiceQuery("org_acme", "failed")):
            ...

One long-lived ``httpx.AsyncClient``. Errors: :class:`SyncLogUnavailable` (transport errors,
timeouts, 5xx, 429, and 401/403, which a fixed configuration cures, so retrying is right) and
:class:`~invoice_events.ports.SyncLogError` (any other refusal).
"""

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import SecretStr

from invoice_events.ports import InvoiceQuery, SyncLogError
from service_kit.errors import RetryLater

PAGE_SIZE = 500  # the API's maximum
Params = list[tuple[str, str | int | float | bool | None]]  # a name may repeat
_MAX_PAGES = 100_000  # a cursor that never ends is a bug on the other side; stop somewhere


class SyncLogUnavailable(RetryLater):
    """The sync-log API cannot answer right now."""


class SyncLogClient:
    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        *,
        timeout_seconds: float,
        page_size: int = PAGE_SIZE,
        transport: httpx.AsyncBaseTransport | None = None,  # tests: httpx.MockTransport
    ) -> None:
        self._page_size = page_size
        headers = {"Accept": "application/json"}
        if key := api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 3.0)),
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def invoice_ids(self, query: InvoiceQuery) -> AsyncIterator[str]:
        params: Params = [
            ("org_id", query.org_id),
            ("status", query.status),
            ("limit", self._page_size),
        ]
        params += [("error_code", code) for code in query.codes]  # repeated: any of
        if query.invoice_number:
            params.append(("invoice_number", query.invoice_number))
        if query.since:
            params.append(("since", query.since.isoformat()))
        if query.until:
            params.append(("until", query.until.isoformat()))
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await self._get(
                "/v1/invoices", params + ([("cursor", cursor)] if cursor else [])
            )
            for item in page.get("items", []):
                if _matches(item, query):
                    yield str(item["invoice_id"])
            next_cursor = page.get("next_cursor")
            if not next_cursor or next_cursor == cursor:
                return
            cursor = str(next_cursor)
        raise SyncLogError(f"more than {_MAX_PAGES} pages of invoices")

    async def _get(self, path: str, params: Params) -> dict[str, Any]:
        try:
            response = await self._http.get(path, params=params)
        except httpx.TransportError as error:  # connect, read and pool timeouts included
            raise SyncLogUnavailable(f"{type(error).__name__}: {error}") from error
        status = response.status_code
        if status >= 500 or status in (401, 403, 429):
            raise SyncLogUnavailable(f"GET {path} answered {status}")
        if status >= 400:
            raise SyncLogError(f"GET {path} answered {status}: {response.text[:500]}")
        try:
            body = response.json()
        except ValueError as error:
            raise SyncLogError(f"GET {path} answered with no JSON") from error
        if not isinstance(body, dict):
            raise SyncLogError(f"GET {path} answered with JSON {type(body).__name__}")
        return body


def _matches(item: dict[str, Any], query: InvoiceQuery) -> bool:
    """Double-check each row, so a filter the server ignored cannot widen a resync."""
    if item.get("org_id", query.org_id) != query.org_id:
        return False
    if item.get("status", query.status) != query.status:
        return False
    if query.invoice_number and item.get("invoice_number", query.invoice_number) != (
        query.invoice_number
    ):
        return False
    if not query.codes:
        return True
    last_error = item.get("last_error") or {}
    return bool(last_error.get("error_code", query.codes[0]) in query.codes)
