"""The writes to Xero, chunk by chunk, so that an invoice is created at most once and nothing
that is not ours is touched.

    links = await writer.write(scope, writes, records, sync_results)   # sync_results filled in

- Updates and cancels go by InvoiceID (``POST``); they are idempotent, so an unknown outcome
  (a timeout after sending, a 5xx) is simply sent again.
- Creates go by ``PUT``, which only creates, up to ``lanes`` chunks at once (no invoice is
  in two chunks; Xero allows 5 calls in flight a tenant). A lane that fails stops the others
  taking new chunks; those already sent finish, with their outcomes and links, and then the
  failure is raised. Before a create is sent, its intent (the number and source Url about to
  be sent) is stored: a chunk's while the chunks before it are written. Updates, adopted
  creates' included, go one chunk at a time after the creates. A create refused as "Invoice
  # must be unique.", every create of a write whose outcome is unknown, and every create
  tried before (an intent without a link) is looked up by every number this integration ever
  sent for it: a sales invoice with our number and our Url is adopted (linked, then updated);
  anything else holding the number fails ``invoice_number_taken``.
- A request Xero refuses whole (an unreadable element) is halved until the culprit is alone.
- Each chunk's links are stored while the next chunks are sent (a lane waits for them only
  when more than ``LINKS_AHEAD`` chunks' are storing), one chunk's after the other's, and all
  of them before ``write`` returns (so before any result goes out). A crash in between loses
  no create: their intents are stored, so they are looked up, not sent again.
"""

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial

import structlog

from service_kit.errors import RetryLater
from sync_schemas import ErrorCode
from xero_connector.domain import Intent, InvoiceRecord, Link
from xero_connector.mapping import classify, idempotency_key, unit_decimals
from xero_connector.metrics import BATCH_SIZE
from xero_connector.ports import InvoiceRecords, XeroAccounting, XeroScope
from xero_connector.sync import planner
from xero_connector.sync.concurrent import every, stop_all
from xero_connector.sync.model import SyncResult, Write, failed
from xero_connector.xero_errors import (
    XeroBadRequest,
    XeroError,
    XeroUnavailable,
    XeroValidationError,
)
from xero_connector.xero_models import WrittenInvoice

log = structlog.get_logger(__name__)
Sleep = Callable[[float], Awaitable[None]]
# Chunks whose links may still be storing when a lane sends its next chunk (the other lanes'
# chunks answered meanwhile may add theirs): the writer does not wait for a slow store, and a
# store that fails lets no more than this many a lane go after it.
LINKS_AHEAD = 4


def unavailable(error: XeroError) -> SyncResult:
    return failed(ErrorCode.XERO_UNAVAILABLE, f"Xero is unavailable: {error.message}")


class _Links:
    """The links one ``write`` reaches, and their storing: each chunk's are stored in the
    background once the chunk before's are (a later link of an invoice never lands first),
    while the writer goes on. A lane sends no chunk while more than ``LINKS_AHEAD`` are
    storing: once it has queued a chunk's, it waits for the oldest store (up to one more a
    lane may be queued meanwhile), and a store that failed is raised there. Waiting never
    cancels a store, so a lane stopped meanwhile leaves its chunk's links queued. ``stored``
    waits for all of them, and leaves none running whatever ends it."""

    def __init__(
        self, records: InvoiceRecords, org_id: str, known: dict[str, InvoiceRecord]
    ) -> None:
        self.reached: dict[str, Link] = {}
        self._records = records
        self._org_id = org_id
        self._known = known
        self._stores: deque[asyncio.Future[None]] = deque()  # in the order queued

    async def store(self, chunk: list[Write]) -> None:
        """Queue storing the links ``chunk`` reached (each raises its invoice's high-water
        mark as well) behind those before, then wait while too many are storing."""
        written = {w.invoice_id: self.reached[w.invoice_id] for w in chunk if w in self}
        if written:
            before = self._stores[-1] if self._stores else None
            # Invoices with neither mark nor link when the batch began (first creates): their
            # links are inserted, far cheaper than an update on FerretDB.
            new = {i for i in written if _blank(self._known.get(i))}
            self._stores.append(asyncio.ensure_future(self._store_after(before, written, new)))
        while self._stores and (len(self._stores) > LINKS_AHEAD or self._stores[0].done()):
            oldest = self._stores[0]
            await asyncio.wait({oldest})  # unlike awaiting it, cancels nothing when stopped
            oldest.result()  # a failed store's error: no more writes after it
            if self._stores and self._stores[0] is oldest:  # not already taken by another lane
                self._stores.popleft()

    async def _store_after(
        self, before: asyncio.Future[None] | None, links: dict[str, Link], new: set[str]
    ) -> None:
        if before is not None:
            await before  # a failed store fails the one queued behind it
        await self._records.settle(self._org_id, {}, links, new=new)

    def cancel(self) -> None:
        for storing in self._stores:
            storing.cancel()

    async def stored(self) -> None:
        """Every link reached so far is stored (or the first failed store's error raised)."""
        stores, self._stores = self._stores, deque()
        try:
            for storing in stores:
                await storing
        finally:  # cancelled, or failed: none of them goes on after the write
            await stop_all(stores)

    def __contains__(self, w: Write) -> bool:
        return w.invoice_id in self.reached


def _blank(record: InvoiceRecord | None) -> bool:
    return record is None or (record.high_water == 0 and record.link is None)


class _Intents:
    """The intents of one ``write``'s create chunks, each stored once, in the background."""

    def __init__(
        self, intend: Callable[[list[Write]], Awaitable[None]], chunks: list[list[Write]]
    ) -> None:
        self._intend = intend
        self._chunks = chunks
        self._stores: dict[int, asyncio.Future[None]] = {}

    def start(self, n: int) -> None:
        if n < len(self._chunks) and n not in self._stores:
            self._stores[n] = asyncio.ensure_future(self._intend(self._chunks[n]))

    async def stored(self, n: int) -> None:
        await self._stores[n]

    async def stop(self) -> None:
        """None goes on after the write (one started for a chunk never sent is harmless: an
        intent without a link only makes the next create look first)."""
        await stop_all(list(self._stores.values()))


class Writer:
    def __init__(
        self,
        xero: XeroAccounting,
        records: InvoiceRecords,
        *,
        chunk_size: int = 50,
        write_attempts: int = 4,
        backoff_seconds: float = 0.5,
        lookup_always: bool = False,
        lanes: int = 1,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.xero = xero
        self._records = records
        self.chunk_size = chunk_size
        self._attempts = write_attempts
        self._backoff = backoff_seconds
        self._lookup_always = lookup_always
        self._lanes = lanes
        self._sleep = sleep
        self.deadline = float("inf")  # monotonic time after which no new write is sent

    async def write(
        self,
        scope: XeroScope,
        writes: list[Write],
        records: dict[str, InvoiceRecord],
        sync_results: dict[str, SyncResult],
    ) -> dict[str, Link]:
        """Each write's result goes into ``sync_results`` as soon as Xero answers it (an error
        later leaves it there); returns the links stored. Whatever error ends the write, the
        links it reached are stored first: an error after a chunk was written does not leave
        that chunk's results without their links. A cancellation while links are storing
        cancels those stores (their intents are stored, so those creates are looked up when
        the batch comes again)."""
        links = _Links(self._records, scope.org_id, records)
        try:
            await self._write(scope, writes, records, sync_results, links)
        except asyncio.CancelledError:
            links.cancel()  # the batch is being stopped (a revoke): now, not once stored
            raise
        finally:
            await links.stored()
        return links.reached

    async def _write(
        self,
        scope: XeroScope,
        writes: list[Write],
        records: dict[str, InvoiceRecord],
        sync_results: dict[str, SyncResult],
        links: _Links,
    ) -> None:
        creates = [w for w in writes if w.xero_id is None]
        size = self.chunk_size
        chunks = [creates[start : start + size] for start in range(0, len(creates), size)]
        intents = _Intents(partial(self._intend, scope), chunks)
        lanes = min(self._lanes, len(chunks))
        taken = iter(range(len(chunks)))

        failures: list[Exception] = []

        async def lane() -> None:
            for n in taken:  # shared: each chunk goes to the first lane free
                if failures:
                    return  # no new chunk; the other lanes' chunks already sent finish
                if self._past_deadline(chunks[n], sync_results):
                    continue
                # Each create's intent is stored before it is sent; the chunk this lane is
                # likely to take next has its intents stored while this one is written.
                intents.start(n)
                intents.start(n + lanes)
                try:
                    await intents.stored(n)
                    await self._creates(scope, chunks[n], records, sync_results, links)
                except Exception as error:  # not a cancellation: that is the write's own
                    failures.append(error)
                    return

        try:
            await every(*(lane() for _ in range(lanes)))
        finally:
            await intents.stop()
        if failures:
            # Sent back (fenced, an outage) wins over a failure that fails the invoices left:
            # the batch comes again rather than answering for what this instance may not write.
            raise next((f for f in failures if isinstance(f, RetryLater)), failures[0])
        # Linked invoices, and creates adopted above (their xero_id is set now, and they have
        # no outcome yet).
        updates = [w for w in writes if w.xero_id is not None and w.invoice_id not in sync_results]
        for start in range(0, len(updates), self.chunk_size):
            chunk = updates[start : start + self.chunk_size]
            if self._past_deadline(chunk, sync_results):
                continue
            await self._updates(scope, chunk, sync_results, links)

    async def _intend(self, scope: XeroScope, creates: list[Write]) -> None:
        if creates:
            intents = {
                w.invoice_id: (w.payload["InvoiceNumber"], w.payload["Url"]) for w in creates
            }
            await self._records.intend(scope.org_id, scope.tenant_id, intents)

    def _past_deadline(self, chunk: list[Write], sync_results: dict[str, SyncResult]) -> bool:
        """Past the batch deadline no new chunk is sent: the batch must end well inside
        Kafka's poll interval, or its partitions move while it still writes. What is left
        fails xero_unavailable, which retries by itself."""
        if time.monotonic() < self.deadline:
            return False
        log.warning("batch.deadline_reached", left=len(chunk))
        for w in chunk:
            sync_results[w.invoice_id] = failed(
                ErrorCode.XERO_UNAVAILABLE,
                "Xero is unavailable: too slow to finish the batch in time (batch deadline)",
            )
        return True

    async def _updates(
        self,
        scope: XeroScope,
        chunk: list[Write],
        sync_results: dict[str, SyncResult],
        links: _Links,
    ) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                answers = await self._send(scope, chunk, create=False)
            except XeroUnavailable as error:
                if attempt == self._attempts:
                    sync_results.update({w.invoice_id: unavailable(error) for w in chunk})
                    return
                await self._pause(attempt, error)
                continue
            except (XeroBadRequest, XeroValidationError) as error:
                await self._split(scope, chunk, error, sync_results, links, None)
                return
            for w, answer in zip(chunk, answers, strict=True):
                self._settle(scope, w, answer, sync_results, links)
            await links.store(chunk)
            return

    async def _creates(
        self,
        scope: XeroScope,
        chunk: list[Write],
        records: dict[str, InvoiceRecord],
        sync_results: dict[str, SyncResult],
        links: _Links,
    ) -> None:
        """Creates of one chunk; those adopted get their ``xero_id``, to be updated later."""
        pending = list(chunk)
        # A create tried before without a link to show for it has an unknown outcome (its
        # answer lost, a crash, a renumbering since): look before creating again.
        tried = [w for w in pending if self._tried(scope, w, records)]
        if self._lookup_always or tried:
            doubtful = pending if self._lookup_always else tried
            kept = await self._look_up(scope, doubtful, records, sync_results)
            pending = [w for w in pending if w not in doubtful or w in kept]
        attempt = 0
        while pending:
            attempt += 1
            try:
                answers = await self._send(scope, pending, create=True)
            except XeroUnavailable as error:
                if attempt >= self._attempts:
                    sync_results.update({w.invoice_id: unavailable(error) for w in pending})
                    break
                await self._pause(attempt, error)
                # Xero may have written them: look before sending again.
                pending = await self._look_up(scope, pending, records, sync_results)
                continue
            except (XeroBadRequest, XeroValidationError) as error:
                await self._split(scope, pending, error, sync_results, links, records)
                break
            again = []
            for w, answer in zip(pending, answers, strict=True):
                if not self._settle(scope, w, answer, sync_results, links):
                    again.append(w)  # number taken: ours from before, or someone else's?
            await links.store(pending)
            if again:
                again = await self._look_up(scope, again, records, sync_results)
            if again and attempt >= self._attempts:
                for w in again:
                    sync_results[w.invoice_id] = failed(
                        ErrorCode.XERO_VALIDATION,
                        f"Xero keeps refusing invoice {w.target.invoice.invoice_number} as a "
                        "duplicate number, and no invoice with that number was found",
                        ("Invoice # must be unique.",),
                    )
                break
            pending = again

    async def _look_up(
        self,
        scope: XeroScope,
        pending: list[Write],
        records: dict[str, InvoiceRecord],
        sync_results: dict[str, SyncResult],
    ) -> list[Write]:
        """Decide each create by what Xero holds under every number we ever sent for it."""
        intents = {w.invoice_id: self._intent(scope, w, records) for w in pending}
        numbers = [n for intent in intents.values() for n in intent.numbers]
        found = await self.xero.find_invoices(scope, numbers=numbers)
        still = []
        for w in pending:
            owner = planner.ownership(w.target.invoice.invoice_number, intents[w.invoice_id], found)
            if isinstance(owner, planner.Adopt):
                log.info("xero.invoice_adopted", invoice_id=w.invoice_id)
                w.xero_id = owner.invoice.invoice_id
            elif isinstance(owner, planner.Taken):
                number = w.target.invoice.invoice_number
                sync_results[w.invoice_id] = planner.number_taken(number, owner.invoice)
            else:
                still.append(w)
        return still

    @staticmethod
    def _tried(scope: XeroScope, w: Write, records: dict[str, InvoiceRecord]) -> bool:
        record = records.get(w.invoice_id)
        return record is not None and bool(record.intent_in(scope.tenant_id).numbers)

    @staticmethod
    def _intent(scope: XeroScope, w: Write, records: dict[str, InvoiceRecord]) -> Intent:
        """The stored intent plus the one just stored for this create."""
        record = records.get(w.invoice_id)
        known = record.intent_in(scope.tenant_id) if record else Intent()
        return known.adding(Intent((str(w.payload["InvoiceNumber"]),), (str(w.payload["Url"]),)))

    def _settle(
        self,
        scope: XeroScope,
        w: Write,
        answer: WrittenInvoice,
        sync_results: dict[str, SyncResult],
        links: _Links,
    ) -> bool:
        """Record one element's outcome; False for a create refused as a duplicate number."""
        outcome = planner.written(w, answer)
        if outcome is None:
            return False
        sync_results[w.invoice_id] = outcome
        link = planner.link_after(w, answer, scope.tenant_id)
        if link is not None:
            links.reached[w.invoice_id] = link
        return True

    async def _send(
        self, scope: XeroScope, chunk: list[Write], *, create: bool
    ) -> list[WrittenInvoice]:
        method = "PUT" if create else "POST"
        parts = [
            (
                w.invoice_id,
                str(w.target.version),
                w.digest,
                w.xero_id or "",
                *sorted(r.event_id for r in w.target.asks),
            )
            for w in chunk
        ]
        key = idempotency_key(method, scope.org_id, parts)
        unitdp = unit_decimals(w.target.invoice for w in chunk if not w.cancel)
        BATCH_SIZE.observe(len(chunk))
        elements = [w.element() for w in chunk]
        if create:
            return await self.xero.create_invoices(scope, elements, key=key, unitdp=unitdp)
        return await self.xero.update_invoices(scope, elements, key=key, unitdp=unitdp)

    async def _split(
        self,
        scope: XeroScope,
        chunk: list[Write],
        error: XeroError,
        sync_results: dict[str, SyncResult],
        links: _Links,
        records: dict[str, InvoiceRecord] | None,
    ) -> None:
        """A whole request refused: halve it to find the culprit (alone, it fails).
        ``records`` is given for creates, None for updates."""
        if len(chunk) == 1:
            messages = tuple(getattr(error, "messages", None) or [error.message])
            sync_results[chunk[0].invoice_id] = failed(classify(messages), error.message, messages)
            return
        half = len(chunk) // 2
        for part in (chunk[:half], chunk[half:]):
            if records is not None:
                # Creates adopted here are updated with the other updates, after every lane's
                # creates: an update is never in flight beside another write of the org.
                await self._creates(scope, part, records, sync_results, links)
            else:
                await self._updates(scope, part, sync_results, links)

    async def _pause(self, attempt: int, error: XeroError) -> None:
        log.warning("xero.write_unknown_outcome", error=str(error), attempt=attempt)
        await self._sleep(self._backoff * 2**attempt * (0.5 + random.random()))  # noqa: S311
