"""Fencing against rebalances: a batch whose partitions are taken away stops writing.

When Kafka moves partitions to another instance (scale-out, a restart, a batch that outlived
``max_poll_interval_ms``), their records are handed to the new owner, which handles them
again. The old instance must not go on writing them to Xero meanwhile: with a newer version
already written by the new owner, a late write of an older one would win in Xero. So every
batch runs as a task registered with the partitions of its records, and the rebalance
listener cancels the batches of revoked partitions before the rebalance completes (aiokafka
awaits the listener). A cancelled batch is neither acknowledged nor sent back: its
partitions' new owner reads them from the last committed offset, and the links, intents and
high-water marks make that second pass idempotent.

    fence = Fence(grace_seconds=5)
    subscriber = broker.subscriber(..., listener=fence)
    await fence.run(partitions, handle(records))     # raises BatchRevoked if revoked
"""

import asyncio
from collections.abc import Awaitable, Callable, Collection
from typing import ClassVar, TypeVar

import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition

from service_kit.consumer import Abandoned
from xero_connector.metrics import ASSIGNED_PARTITIONS

log = structlog.get_logger(__name__)
T = TypeVar("T")


class BatchRevoked(Abandoned):
    """The batch's partitions were revoked while it ran: it was cancelled."""

    outcome: ClassVar[str] = "revoked"


class Fence(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self, grace_seconds: float = 10.0, on_revoked: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._grace = grace_seconds
        self._on_revoked = on_revoked
        self._running: dict[asyncio.Task[object], frozenset[TopicPartition]] = {}
        self._revoked: set[asyncio.Task[object]] = set()
        self.assigned: set[TopicPartition] = set()  # as of the last rebalance

    async def run(self, partitions: Collection[TopicPartition], work: Awaitable[T]) -> T:
        task: asyncio.Task[T] = asyncio.ensure_future(work)
        self._running[task] = frozenset(partitions)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task in self._revoked:  # cancelled by a revoke, not our own caller
                raise BatchRevoked(f"partitions {sorted(str(p) for p in partitions)}") from None
            task.cancel()
            raise
        finally:
            self._running.pop(task, None)
            self._revoked.discard(task)

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        gone = set(revoked)
        self.assigned -= gone
        ASSIGNED_PARTITIONS.set(len(self.assigned))
        victims = [task for task, parts in self._running.items() if parts & gone]
        for task in victims:
            self._revoked.add(task)
            task.cancel()
        if victims:
            log.warning("batch.revoked", partitions=sorted(str(p) for p in gone))
            # Wait for them to stop (bounded), so no write leaves after the rebalance.
            await asyncio.wait(victims, timeout=self._grace)
        if self._on_revoked is not None:
            await self._on_revoked()  # e.g. end the writer leases: successors need not wait

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        self.assigned |= set(assigned)
        ASSIGNED_PARTITIONS.set(len(self.assigned))
