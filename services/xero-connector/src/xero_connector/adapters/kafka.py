"""``xero.connection_changed.v1`` onto Kafka, acknowledged by all in-sync replicas."""

from faststream.kafka import KafkaBroker

from service_kit.events import Topics, publish_event
from sync_schemas import EventType, XeroConnectionChanged, new_event

SOURCE = "/xero-connector"


class KafkaConnectionEvents:
    def __init__(self, broker: KafkaBroker, names: Topics) -> None:
        self._broker = broker
        self._names = names

    async def publish(self, change: XeroConnectionChanged) -> None:
        event = new_event(
            EventType.XERO_CONNECTION_CHANGED, change, source=SOURCE, subject=change.org_id
        )
        await publish_event(self._broker, event, self._names)
