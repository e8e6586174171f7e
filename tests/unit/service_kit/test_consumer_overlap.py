"""A batch's finish (its results going out) overlapping the next batch's handling, with
hand-written fakes: offsets committed in order and only the batch's own; a finish that fails
sends its batch back at once, and the batch fetched before that goes back with it; a batch
fetched after the seek or a rebalance goes on; a bug in a finish is isolated when its records
come again; a bug in the next batch waits for the finish before it."""

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from service_kit.consumer import Abandoned, Consumer, Finish, Received, Retry
from service_kit.errors import RetryLater
from service_kit.events import RawRecord, decode_record
from sync_schemas import CloudEvent, EnvelopeError, EventType, encode, new_event
from tests.support.samples import invoice

Events = list[Received[CloudEvent[Any]]]


class KafkaConsumer:
    """Records commits (with their offsets) and seeks, in order, in one shared log."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append(f"commit {sorted((tp.partition, o) for tp, o in offsets.items())}")

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.log.append(f"seek {partition.partition}@{offset}")


class Message:
    def __init__(self, log: list[str], *records: ConsumerRecord[bytes, bytes]) -> None:
        self.raw_message: Any = records
        self.consumer = KafkaConsumer(log)
        self.log = log
        self.name = "batch " + ",".join(str(r.offset) for r in records)

        self.settled = False

    # As FastStream's: only the first ack or nack of a message does anything (a nack seeks
    # each partition of the batch to its first offset).
    async def ack(self) -> None:
        if not self.settled:
            self.settled = True
            self.log.append(f"ack {self.name}")

    async def nack(self) -> None:
        if not self.settled:
            self.settled = True
            self.log.append(f"nack {self.name}")


def good(offset: int, partition: int = 0, invoice_id: str = "inv_1") -> Any:
    rec = encode(new_event(EventType.INVOICE_CREATED, invoice(invoice_id=invoice_id), source="/x"))
    return ConsumerRecord(
        "t", partition, offset, 0, 0, b"k", rec.value, None, len(rec.value), 0, rec.headers
    )


class Service:
    """Handles a batch by logging it; its finish logs, then waits for ``release`` of that
    batch (when asked to hold it) and fails with ``finish_errors`` popped in order."""

    def __init__(self, log: list[str], poison: str = "never") -> None:
        self.log = log
        self.poison = poison
        self.held: dict[str, asyncio.Event] = {}
        self.finish_errors: list[Exception | None] = []
        self.counts: dict[str, int] = {}

    def hold(self, name: str) -> asyncio.Event:
        self.held[name] = asyncio.Event()
        return self.held[name]

    async def handle(self, received: Events) -> Finish | None:
        name = "batch " + ",".join(str(rec.offset) for rec, _ in received)
        self.log.append(f"handle {name}")
        if any(event.data.invoice_id == self.poison for _, event in received):
            raise KeyError("a bug")

        async def finish() -> None:
            self.log.append(f"finish {name}")
            if name in self.held:
                await self.held[name].wait()
            if self.finish_errors and (error := self.finish_errors.pop(0)):
                raise error
            self.log.append(f"finished {name}")

        return finish

    async def dead_letter(self, rec: RawRecord, error: EnvelopeError) -> None:
        self.log.append(f"dead-letter {rec.offset}")

    def consumer(self, **options: Any) -> Consumer[CloudEvent[Any]]:
        return Consumer(
            self.handle,
            self.dead_letter,
            decode=decode_record,
            retry=Retry(attempts=1),
            count=self.count,
            overlap=options.pop("overlap", True),
            **options,
        )

    def count(self, outcome: str, records: int) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + records


async def test_a_batch_is_handled_while_the_one_before_finishes_and_commits_come_in_order() -> None:
    log: list[str] = []
    service = Service(log)
    release = service.hold("batch 0,1")
    consumer = service.consumer()

    await consumer.consume(Message(log, good(0), good(1, partition=1)))
    assert log == ["handle batch 0,1", "finish batch 0,1"]  # started, still going out

    second = asyncio.create_task(consumer.consume(Message(log, good(2), good(3, partition=1))))
    await asyncio.sleep(0.01)
    assert log[2:] == ["handle batch 2,3"]  # handled meanwhile; its finish waits its turn
    release.set()
    await second
    await consumer.close()

    assert log[3:] == [
        "finished batch 0,1",
        "commit [(0, 1), (1, 2)]",  # the first batch's offsets alone, never the position
        "finish batch 2,3",
        "finished batch 2,3",
        "commit [(0, 3), (1, 4)]",
    ]
    assert service.counts == {"handled": 4}  # each batch once it was committed


async def test_a_finish_that_fails_sends_its_batch_back_with_the_one_fetched_before_that() -> None:
    log: list[str] = []
    service = Service(log)
    service.finish_errors = [RetryLater("kafka went away")]
    consumer = service.consumer()

    await consumer.consume(Message(log, good(0), good(1, partition=1)))
    # Fetched before the first batch was sought back: it starts past it on partition 0.
    await consumer.consume(Message(log, good(2), good(5, partition=2)))
    await consumer.close()

    assert log == [
        "handle batch 0,1",
        "finish batch 0,1",
        "handle batch 2,5",
        "nack batch 0,1",  # at once, as it failed
        # Both batches together: each partition from its first offset among them.
        "seek 0@0",
        "seek 2@5",
        "seek 1@1",
    ]
    # Counted once each: neither batch is counted handled, as neither was acknowledged.
    assert service.counts == {"redelivered": 2, "held_back": 2}


async def test_a_batch_whose_commit_fails_is_not_counted_handled() -> None:
    log: list[str] = []
    service = Service(log)
    consumer = service.consumer()
    message = Message(log, good(0))

    async def refused(offsets: dict[TopicPartition, int]) -> None:
        raise ConnectionError("the group coordinator moved")

    message.consumer.commit = refused  # type: ignore[method-assign]
    await consumer.consume(message)
    await consumer.close()

    # Finished, left to a later commit (or the next owner), and counted when that one is.
    assert log == ["handle batch 0", "finish batch 0", "finished batch 0"]
    assert service.counts == {}


async def test_a_finish_that_fails_sends_its_batch_back_without_waiting_for_another() -> None:
    log: list[str] = []
    service = Service(log)
    service.finish_errors = [RetryLater("kafka went away")]
    consumer = service.consumer()

    await consumer.consume(Message(log, good(0)))
    await consumer.close()  # no batch comes after it

    assert log == ["handle batch 0", "finish batch 0", "nack batch 0"]


async def test_the_batch_read_again_after_a_finish_failed_goes_on() -> None:
    log: list[str] = []
    service = Service(log)
    service.finish_errors = [RetryLater("kafka went away")]
    consumer = service.consumer()

    await consumer.consume(Message(log, good(0)))
    await asyncio.sleep(0.01)  # sent back before the next fetch
    await consumer.consume(Message(log, good(0), good(1)))  # from the first offset again
    await consumer.close()

    assert log[2:] == [
        "nack batch 0",
        "handle batch 0,1",
        "finish batch 0,1",
        "finished batch 0,1",
        "commit [(0, 2)]",
    ]


async def test_a_bug_in_a_finish_is_isolated_to_its_record_when_it_comes_again() -> None:
    log: list[str] = []
    service = Service(log)
    service.finish_errors = [ValueError("a bug in publishing"), ValueError("again")]
    consumer = service.consumer()

    await consumer.consume(Message(log, good(0)))
    await asyncio.sleep(0.01)
    assert log == ["handle batch 0", "finish batch 0", "nack batch 0"]

    # Read again, it finishes in place, where the bug is the record's: dead-lettered,
    # the partition goes on.
    await consumer.consume(Message(log, good(0)))
    assert log[3:] == ["handle batch 0", "finish batch 0", "dead-letter 0", "commit [(0, 1)]"]

    release = service.hold("batch 1")
    await consumer.consume(Message(log, good(1)))  # the next ones overlap again
    assert log[7:] == ["handle batch 1", "finish batch 1"]
    release.set()
    await consumer.close()
    assert log[9:] == ["finished batch 1", "commit [(0, 2)]"]


async def test_a_batch_fetched_while_the_one_before_finished_is_held_back_by_its_revoke() -> None:
    log: list[str] = []
    service = Service(log)
    service.finish_errors = [Abandoned("partitions moved")]
    release = service.hold("batch 0")
    consumer = service.consumer()

    await consumer.consume(Message(log, good(0)))
    # On another partition, fetched before the rebalance: it lost its partition too.
    second = asyncio.create_task(consumer.consume(Message(log, good(7, partition=1))))
    await asyncio.sleep(0.01)
    release.set()
    await second
    await consumer.close()

    # Not committed, not finished: sought back with the batch before (a partition that was
    # revoked is left to its new owner).
    assert log == ["handle batch 0", "finish batch 0", "handle batch 7", "seek 1@7", "seek 0@0"]


async def test_a_batch_fetched_after_a_revoke_goes_on_wherever_it_starts() -> None:
    log: list[str] = []
    service = Service(log)
    service.finish_errors = [Abandoned("partitions moved")]
    consumer = service.consumer()

    await consumer.consume(Message(log, good(0)))
    await asyncio.sleep(0.01)  # revoked; the partition comes back later
    # Read from the last commit, which another owner may have moved on meanwhile.
    await consumer.consume(Message(log, good(5), good(6)))
    await consumer.close()

    assert log == [
        "handle batch 0",
        "finish batch 0",
        "handle batch 5,6",
        "finish batch 5,6",
        "finished batch 5,6",
        "commit [(0, 7)]",
    ]


async def test_a_batch_on_other_partitions_goes_on_after_a_finish_failed() -> None:
    log: list[str] = []
    service = Service(log)
    service.finish_errors = [RetryLater("kafka went away")]
    consumer = service.consumer()

    await consumer.consume(Message(log, good(0)))
    await consumer.consume(Message(log, good(3, partition=1)))  # not moved by that seek
    await consumer.close()

    assert log == [
        "handle batch 0",
        "finish batch 0",
        "handle batch 3",
        "nack batch 0",
        "finish batch 3",
        "finished batch 3",
        "commit [(1, 4)]",
    ]


async def test_an_outage_while_the_batch_before_finishes_waits_for_it_then_sends_back() -> None:
    log: list[str] = []
    service = Service(log)
    release = service.hold("batch 0")
    consumer = service.consumer()
    await consumer.consume(Message(log, good(0)))

    async def outage(received: Events) -> Finish | None:
        log.append("handle batch 1")
        raise RetryLater("mongo")

    consumer._handle = outage
    second = asyncio.create_task(consumer.consume(Message(log, good(1))))
    await asyncio.sleep(0.01)
    assert log[-1] == "handle batch 1"  # nothing sent back while the batch before goes out
    release.set()
    await second

    assert log[2:] == ["handle batch 1", "finished batch 0", "commit [(0, 1)]", "nack batch 1"]


async def test_a_bug_is_isolated_only_once_the_batch_before_has_finished() -> None:
    log: list[str] = []
    service = Service(log, poison="inv_bad")
    release = service.hold("batch 0")
    consumer = service.consumer()
    await consumer.consume(Message(log, good(0)))

    second = asyncio.create_task(
        consumer.consume(Message(log, good(1, invoice_id="inv_a"), good(2, invoice_id="inv_bad")))
    )
    await asyncio.sleep(0.01)
    assert log[2:] == ["handle batch 1,2"]
    release.set()
    await second

    # Record by record, each finished in place, after the batch before was committed.
    assert log[3:] == [
        "finished batch 0",
        "commit [(0, 1)]",
        "handle batch 1",
        "finish batch 1",
        "finished batch 1",
        "handle batch 2",
        "dead-letter 2",
        "commit [(0, 3)]",
    ]


async def test_without_overlap_a_batch_finishes_before_the_next_and_a_failure_sends_it_back() -> (
    None
):
    log: list[str] = []
    service = Service(log)
    service.finish_errors = [None, RetryLater("kafka went away")]
    consumer = service.consumer(overlap=False)

    await consumer.consume(Message(log, good(0)))
    await consumer.consume(Message(log, good(1)))

    assert log == [
        "handle batch 0",
        "finish batch 0",
        "finished batch 0",
        "ack batch 0",
        "handle batch 1",
        "finish batch 1",
        "nack batch 1",
    ]


async def test_after_close_a_batch_finishes_before_consume_returns() -> None:
    log: list[str] = []
    service = Service(log)
    release = service.hold("batch 0")
    consumer = service.consumer()
    await consumer.consume(Message(log, good(0)))

    closing = asyncio.create_task(consumer.close())
    await asyncio.sleep(0.01)
    assert not closing.done()  # waits for the results going out
    release.set()
    await closing
    assert log[-1] == "commit [(0, 1)]"

    await consumer.consume(Message(log, good(1)))
    assert log[-2:] == ["finished batch 1", "commit [(0, 2)]"]


async def test_a_batch_being_handled_when_close_is_called_finishes_in_place() -> None:
    log: list[str] = []
    service = Service(log)
    go = asyncio.Event()

    async def slow(received: Events) -> Finish | None:
        finish = await service.handle(received)
        await go.wait()
        return finish

    consumer = service.consumer()
    consumer._handle = slow
    release = service.hold("batch 0")
    consuming = asyncio.create_task(consumer.consume(Message(log, good(0))))
    await asyncio.sleep(0.01)
    await consumer.close()  # nothing is finishing yet
    go.set()
    await asyncio.sleep(0.01)
    assert not consuming.done()  # the finish runs inside consume, not behind it
    release.set()
    await consuming

    assert log == ["handle batch 0", "finish batch 0", "finished batch 0", "commit [(0, 1)]"]


async def test_the_finish_runs_inside_the_guard() -> None:
    log: list[str] = []
    service = Service(log)
    guarded: list[str] = []

    async def guard(records: Sequence[RawRecord], work: Coroutine[Any, Any, Any]) -> Any:
        guarded.append(",".join(str(r.offset) for r in records))
        return await work

    consumer = service.consumer(guard=guard)
    await consumer.consume(Message(log, good(0)))
    await consumer.close()
    assert guarded == ["0", "0"]  # the handling, then the finish
    assert log[-1] == "commit [(0, 1)]"
