"""The fence: a revoke stops the batches of the revoked partitions, and only those; a stopped
batch is neither acknowledged nor sent back (its partitions' new owner reads it)."""

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from tests.unit.xero_connector.test_consumer_isolation import Message, Processed, record
from xero_connector.fence import BatchRevoked, Fence
from xero_connector.subscribers import SyncConsumer

P0, P1 = TopicPartition("invoices.events", 0), TopicPartition("invoices.events", 1)


async def test_a_revoke_cancels_the_batches_of_those_partitions_only() -> None:
    fence = Fence(grace_seconds=1)
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async def quick() -> str:
        await asyncio.sleep(0.05)
        return "done"

    revoked = asyncio.create_task(fence.run([P0], forever()))
    kept = asyncio.create_task(fence.run([P1], quick()))
    await started.wait()
    await fence.on_partitions_revoked([P0])
    with pytest.raises(BatchRevoked):
        await revoked
    assert await kept == "done"


async def test_a_caller_cancelled_for_another_reason_is_not_a_revoke() -> None:
    fence = Fence()
    outer = asyncio.create_task(fence.run([P0], asyncio.Event().wait()))
    await asyncio.sleep(0)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer


class Blocking:
    """A pipeline that writes until it is stopped."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.stopped = False

    async def sync(self, requests: list[Any]) -> list[Any]:
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.stopped = True
            raise
        return []


async def test_a_revoked_batch_is_stopped_and_left_to_the_new_owner() -> None:
    pipeline, published = Blocking(), list[Any]()

    async def publish_all(events: Any) -> None:
        published.extend(events)

    async def to_dlq(rec: Any, error: Any) -> None:
        raise AssertionError("nothing is dead-lettered")

    consumer = SyncConsumer(pipeline, Processed(), publish_all, to_dlq)  # type: ignore[arg-type]
    message = Message((record(0, "inv_a"),))
    consuming = asyncio.create_task(consumer.consume(message))
    await pipeline.entered.wait()
    await consumer.fence.on_partitions_revoked([P0])
    await consuming
    assert pipeline.stopped and published == []
    assert not message.acked and not message.nacked


async def test_the_partitions_assigned_are_counted_as_rebalances_move_them() -> None:
    def gauge() -> float | None:
        return REGISTRY.get_sample_value("invoice_events_assigned_partitions")

    fence = Fence()
    await fence.on_partitions_assigned([P0, P1])
    assert (fence.assigned, gauge()) == ({P0, P1}, 2)
    await fence.on_partitions_revoked([P0])  # a rebalance takes one away
    assert (fence.assigned, gauge()) == ({P1}, 1)
    await fence.on_partitions_revoked([P1])
    await fence.on_partitions_assigned([P0])
    assert (fence.assigned, gauge()) == ({P0}, 1)
