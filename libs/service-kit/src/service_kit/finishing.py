"""A consumer batch whose finish runs while the next batch is handled
(``Consumer(overlap=True)``, see ``service_kit.consumer``).

Kafka keeps one position per partition. By the time a batch's finish ends, the consumer's
position is past the next batch, so the finish commits its own batch's offsets, never the
position. A batch whose finish could not end is read again, and the batch fetched after it
must not be committed past it:

- a finish that failed sought its batch back to its first offsets. A batch fetched before
  that seek starts past those offsets on a partition they share (aiokafka drops what it
  fetched before a seek, and fetches from the offset sought), so it is sought back with it;
- a finish a rebalance revoked took every partition with it (aiokafka revokes them all): a
  batch fetched while that finish still ran is sought back with it, where its partitions
  are still this instance's. A batch fetched after the revoke is read from the last commit
  and goes on.
"""

import asyncio
import contextlib
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from service_kit.events import RawRecord

Offsets = dict[TopicPartition, int]


class Ended(enum.Enum):
    """How a batch's finish ended."""

    FINISHED = "finished"  # its offsets committed, or left to a later commit if that failed
    SEND_BACK = "send_back"  # nothing of it committed: it is read again
    ABANDONED = "abandoned"  # its partitions moved: their new owner reads it


def _offsets(records: Iterable[RawRecord], pick: Callable[[int, int], int]) -> Offsets:
    chosen: Offsets = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        chosen[partition] = pick(chosen.get(partition, record.offset), record.offset)
    return chosen


def first_offsets(records: Iterable[RawRecord]) -> Offsets:
    """The first offset of each partition among ``records``."""
    return _offsets(records, min)


def last_offsets(records: Iterable[RawRecord]) -> Offsets:
    """The last offset of each partition among ``records``."""
    return _offsets(records, max)


async def commit_batch(consumer: Any, records: Sequence[RawRecord]) -> None:
    """Commit the offsets just past ``records`` (an aiokafka consumer's ``commit``),
    whatever the consumer's position."""
    await consumer.commit({p: offset + 1 for p, offset in last_offsets(records).items()})


def seek_back(consumer: Any, *batches: Sequence[RawRecord]) -> None:
    """Seek each partition of ``batches`` to its first offset among them all. A partition
    revoked meanwhile cannot be sought: its new owner reads it from the last commit."""
    for partition, offset in first_offsets(r for batch in batches for r in batch).items():
        with contextlib.suppress(Exception):
            consumer.seek(partition, offset)


@dataclass(frozen=True, slots=True)
class Finishing:
    """A batch whose finish runs as ``task``."""

    records: Sequence[RawRecord]
    task: asyncio.Task[Ended]

    async def ended(self) -> Ended:
        await asyncio.wait({self.task})  # never cancels it: the caller may be cancelled
        # Cancelled other than by a revoke (which ends ABANDONED): a stop, nothing committed.
        return Ended.SEND_BACK if self.task.cancelled() else self.task.result()

    def fetched_before_its_end(self, records: Iterable[RawRecord]) -> bool:
        """Whether ``records`` were fetched before this batch was sought back: they start
        past its first offset on a partition both have."""
        mine = first_offsets(self.records)
        return any(
            offset > mine[partition]
            for partition, offset in first_offsets(records).items()
            if partition in mine
        )
