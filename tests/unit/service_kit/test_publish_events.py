"""``publish_events`` against a broker whose acknowledgements the test hands out: it returns
only once Kafka acknowledged every record, and any record Kafka refused fails it."""

import asyncio
from collections.abc import Coroutine
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from faststream.kafka import KafkaBroker

from service_kit.events import PublishFailed, Topics, publish_events
from sync_schemas import EventType, new_event
from tests.support.samples import sample_data


class Broker:
    """Takes each record at once and returns its delivery, which the test resolves; the
    record at ``refuse_at`` is refused when handed over."""

    def __init__(self, refuse_at: int | None = None) -> None:
        self.deliveries: list[asyncio.Future[Any]] = []
        self.topics: list[str] = []
        self._refuse_at = refuse_at

    async def publish(self, value: bytes, topic: str, **options: Any) -> asyncio.Future[Any]:
        assert options["no_confirm"] is True
        if len(self.deliveries) == self._refuse_at:
            raise MessageSizeTooLargeError()
        self.topics.append(topic)
        self.deliveries.append(asyncio.get_running_loop().create_future())
        return self.deliveries[-1]


def publish(broker: Broker, count: int) -> Coroutine[Any, Any, None]:
    """``publish_events`` of ``count`` results through ``broker``."""
    data = sample_data(EventType.INVOICE_SYNC_FAILED)
    events = [new_event(EventType.INVOICE_SYNC_FAILED, data, source="/x") for _ in range(count)]
    return publish_events(cast(KafkaBroker, broker), events, Topics())


async def test_it_returns_only_once_every_record_is_acknowledged() -> None:
    broker = Broker()
    publishing = asyncio.create_task(publish(broker, 3))
    await asyncio.sleep(0)
    assert len(broker.deliveries) == 3 and set(broker.topics) == {"invoices.sync-results"}
    broker.deliveries[0].set_result("ok")
    broker.deliveries[2].set_result("ok")
    await asyncio.sleep(0.01)
    assert not publishing.done()  # the second is not acknowledged yet
    broker.deliveries[1].set_result("ok")
    await asyncio.wait_for(publishing, 1)


async def test_a_record_kafka_did_not_acknowledge_fails_it() -> None:
    broker = Broker()
    publishing = asyncio.create_task(publish(broker, 2))
    await asyncio.sleep(0)
    broker.deliveries[0].set_exception(KafkaTimeoutError())
    broker.deliveries[1].set_result("ok")
    with pytest.raises(PublishFailed):
        await publishing


async def test_a_record_dropped_by_a_stopping_producer_fails_it_as_an_outage() -> None:
    broker = Broker()
    publishing = asyncio.create_task(publish(broker, 2))
    await asyncio.sleep(0)
    broker.deliveries[0].cancel()
    broker.deliveries[1].set_result("ok")
    with pytest.raises(PublishFailed):  # not a CancelledError: the caller was not cancelled
        await publishing
    assert not publishing.cancelled()


async def test_a_record_refused_when_handed_over_fails_it_at_once() -> None:
    broker = Broker(refuse_at=1)
    with pytest.raises(PublishFailed):
        # The first record's delivery never resolves: the refusal does not wait for it.
        await asyncio.wait_for(publish(broker, 3), 1)
    assert len(broker.deliveries) == 1
