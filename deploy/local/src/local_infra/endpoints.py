"""Where Kafka and MongoDB come from for tests and benchmarks, decided per server:

1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI`` when set (a running stack, a CI service);
2. else testcontainers, when a Docker engine answers (Kafka, ``mongo:7``);
3. else the project's own local servers on free ports, in ``workdir``.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local_infra.servers import KafkaServer, MongoServer, free_port


def docker_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # no client, no socket, no engine: all mean "no"
        return False


@contextmanager
def kafka_endpoint(workdir: Path) -> Iterator[str]:
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield bootstrap
    elif docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft() as container:
            yield container.get_bootstrap_server()
    else:
        server = KafkaServer(port=free_port(), data_dir=workdir / "kafka")
        server.start()
        try:
            server.wait_ready()
            yield server.bootstrap_servers
        finally:
            server.stop()


@contextmanager
def mongodb_endpoint(workdir: Path) -> Iterator[str]:
    if uri := os.environ.get("MONGODB_URI"):
        yield uri
    elif docker_engine_answers():
        from testcontainers.mongodb import MongoDbContainer

        with MongoDbContainer("mongo:7") as container:
            yield container.get_connection_url()
    else:
        server = MongoServer(port=free_port(), data_dir=workdir / "mongo")
        server.start()
        try:
            server.wait_ready()
            yield server.uri
        finally:
            server.stop()
