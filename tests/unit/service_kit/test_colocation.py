"""Co-location: a record on another partition than its key's is counted (and logged)."""

import pytest
from aiokafka import ConsumerRecord
from aiokafka.partitioner import DefaultPartitioner

from service_kit.events import (
    OFF_PARTITION,
    Colocation,
    TopicsNotColocated,
    check_colocated,
    key_partition,
)


def record(topic: str, partition: int, key: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, partition, 0, 0, 0, key, b"{}", None, 0, 0, [])


def test_the_key_partition_is_kafkas_default() -> None:
    partitions = list(range(12))
    for key in (b"org_acme", b"org_demo", b"o", b"org_" + b"x" * 90):
        assert key_partition(key, 12) == DefaultPartitioner()(key, partitions, partitions)


def test_a_record_off_its_keys_partition_is_counted() -> None:
    colocation = Colocation()
    colocation.partitions["t.events"] = 12
    right = key_partition(b"org_acme", 12)
    before = OFF_PARTITION.labels("t.events")._value.get()
    colocation.check([record("t.events", right, b"org_acme")])
    assert OFF_PARTITION.labels("t.events")._value.get() == before
    colocation.check([record("t.events", (right + 1) % 12, b"org_acme")])
    assert OFF_PARTITION.labels("t.events")._value.get() == before + 1


def test_different_partition_counts_are_refused_naming_the_topics() -> None:
    check_colocated({"a": 12, "b": 12})
    with pytest.raises(TopicsNotColocated, match="a: 12, b: 6"):
        check_colocated({"a": 12, "b": 6})
