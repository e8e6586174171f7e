"""One writer per organisation: a lease with an epoch, checked before every Xero write.

Kafka gives each organisation's partition to one instance, and the fence (``fence.py``)
stops a batch whose partitions are revoked. That rests on the instance hearing of the
revoke. One that does not (its event loop blocked past the session timeout, cut off from
the group coordinator) wakes up still believing it owns the organisation. The lease covers
that case: writing to an organisation's Xero needs its lease, every write first checks that
no later epoch exists (and renews), and a successor can take the lease only after it expired
or was released.

    epoch = await writers.acquire("org_acme")          # waits out another holder's lease
    await writers.check("org_acme", epoch)             # before each write; raises Fenced
    await writers.release_all()                        # on a revoke: successors need not wait

Epochs are documents ``writer:{org}:{epoch}`` created by insert: the one atomic primitive
every MongoDB-wire server (FerretDB v1 included) offers, so two instances can never both
take epoch n+1. The lease outlives any single Xero call (``ttl_seconds`` above the HTTP timeout).
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

import structlog

from service_kit.clock import Clock
from service_kit.errors import RetryLater

log = structlog.get_logger(__name__)
Sleep = Callable[[float], Awaitable[None]]
# A write renews the lease if the last renewal is this old: a Xero call starts with at least
# the lease's length less this before a successor may take over (the settings check that it
# outlives the longest call).
RENEW_EVERY = timedelta(seconds=1)


class Fenced(RetryLater):
    """A later writer holds the organisation: this instance must not write to it. A batch
    that meets it is sent back (the partitions may still be ours once the lease ends)."""

    outcome: ClassVar[str] = "fenced"


class WriterLeaseStore(Protocol):
    async def latest(self, org_id: str) -> tuple[int, str, datetime] | None:
        """The newest epoch of the organisation: (epoch, holder, expires_at), or None."""
        ...

    async def create(self, org_id: str, epoch: int, holder: str, expires_at: datetime) -> bool:
        """Insert epoch ``epoch``; False when it exists (someone else made it first)."""
        ...

    async def exists(self, org_id: str, epoch: int) -> bool: ...

    async def extend(self, org_id: str, epoch: int, expires_at: datetime) -> None: ...


class WriterLeases:
    def __init__(
        self,
        store: WriterLeaseStore,
        holder: str,
        *,
        ttl_seconds: float = 60.0,
        poll_seconds: float = 0.5,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._store = store
        self.holder = holder
        self._ttl = timedelta(seconds=ttl_seconds)
        self._poll = poll_seconds
        self._clock = clock
        self._sleep = sleep
        self._held: dict[str, int] = {}
        self._renewed: dict[str, datetime] = {}

    def held(self, org_id: str) -> int | None:
        """The epoch this instance holds for the organisation, as far as it knows."""
        return self._held.get(org_id)

    async def acquire(self, org_id: str, wait_seconds: float | None = None) -> int:
        """This instance's epoch for the organisation: the one it holds (renewed, at most once
        every ``RENEW_EVERY`` like ``check``), a new one, or one taken over once the previous
        holder's lease expired (waiting up to ``wait_seconds``, by default a lease's length).
        Raises Fenced when another holder keeps it."""
        held = self._held.get(org_id)
        if held is not None and self._renewed_lately(org_id, self._clock()):
            # No successor can take it for most of a lease's length, and every write checks
            # again anyway: a batch a second starts without a store call.
            return held
        deadline = self._clock() + (
            self._ttl if wait_seconds is None else timedelta(seconds=wait_seconds)
        )
        while True:
            now = self._clock()
            latest = await self._store.latest(org_id)
            if latest is not None and latest[1] == self.holder:
                epoch = latest[0]
                await self._store.extend(org_id, epoch, now + self._ttl)
                self._held[org_id] = epoch
                self._renewed[org_id] = now
                return epoch
            if latest is None or latest[2] <= now:
                epoch = (latest[0] if latest else 0) + 1
                if await self._store.create(org_id, epoch, self.holder, now + self._ttl):
                    log.info("writer.lease_taken", org_id=org_id, epoch=epoch)
                    self._held[org_id] = epoch
                    self._renewed[org_id] = now
                    return epoch
                continue  # another instance made that epoch first: look again
            if now >= deadline:
                raise Fenced(f"{org_id} is written by {latest[1]} (epoch {latest[0]})")
            await self._sleep(self._poll)

    async def check(self, org_id: str, epoch: int) -> None:
        """Before a write: still the newest epoch (else Fenced), and renewed (at most once
        every ``RENEW_EVERY``, so the lease has at least its length less that left)."""
        if await self._store.exists(org_id, epoch + 1):
            self._held.pop(org_id, None)
            log.warning("writer.fenced", org_id=org_id, epoch=epoch)
            raise Fenced(f"{org_id}: a later writer took over from epoch {epoch}")
        now = self._clock()
        if not self._renewed_lately(org_id, now):
            await self._store.extend(org_id, epoch, now + self._ttl)
            self._renewed[org_id] = now

    def _renewed_lately(self, org_id: str, now: datetime) -> bool:
        last = self._renewed.get(org_id)
        return last is not None and now - last < RENEW_EVERY

    async def release_all(self) -> None:
        """Let successors take over at once (a revoke): each held lease ends now."""
        held, self._held = self._held, {}
        self._renewed.clear()
        now = self._clock()
        for org_id, epoch in held.items():
            if not await self._store.exists(org_id, epoch + 1):
                await self._store.extend(org_id, epoch, now)
