"""Publishing CloudEvents through the service's FastStream broker.

    publisher = KafkaPublisher(broker, Topics.with_prefix(prefix), timeout_seconds=10)
    await publisher.publish(event)      # acknowledged by all in-sync replicas when it returns

Any Kafka error or a timeout raises :class:`PublishFailed`.
"""

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker

from service_kit.errors import retry_later_on
from service_kit.events import PublishFailed, Topics, publish_event
from sync_schemas import CloudEvent


class KafkaPublisher:
    def __init__(self, broker: KafkaBroker, names: Topics, *, timeout_seconds: float) -> None:
        self._broker = broker
        self._names = names
        self._timeout_seconds = timeout_seconds

    async def publish(self, event: CloudEvent[Any]) -> None:
        with retry_later_on(TimeoutError, as_=PublishFailed):
            async with asyncio.timeout(self._timeout_seconds):
                await publish_event(self._broker, event, self._names)
