"""Where the tests' Kafka and MongoDB come from, decided once per session, per server:

1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI`` when set (a running stack, a CI service);
2. else testcontainers, when a Docker engine answers (Kafka, ``mongo:7``);
3. else the project's own local servers (``local_infra``) on free ports, in a temp dir.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # no client config, no socket, no engine: all mean "no"
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
        from local_infra import KafkaServer, free_port

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
        from local_infra import MongoServer, free_port

        server = MongoServer(port=free_port(), data_dir=workdir / "mongo")
        server.start()
        try:
            server.wait_ready()
            yield server.uri
        finally:
            server.stop()
