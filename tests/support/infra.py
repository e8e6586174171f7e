"""Tests get their servers the way benchmarks do: see ``local_infra.endpoints``."""

from local_infra.endpoints import docker_engine_answers, kafka_endpoint, mongodb_endpoint

__all__ = ["docker_engine_answers", "kafka_endpoint", "mongodb_endpoint"]
