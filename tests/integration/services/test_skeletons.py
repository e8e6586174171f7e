"""Each service starts as a real process and answers its health, readiness, metrics and docs
endpoints against the real Kafka and MongoDB-wire servers."""

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from cryptography.fernet import Fernet

from local_infra import free_port
from tests.support.eventually import eventually_sync

SERVICES = {
    "invoice-events": "INVOICE_EVENTS_",
    "xero-connector": "XERO_CONNECTOR_",
    "sync-log": "SYNC_LOG_",
}


@pytest.fixture(params=list(SERVICES))
def service_url(
    request: pytest.FixtureRequest, kafka_bootstrap: str, mongodb_uri: str, unique: str
) -> Iterator[str]:
    name, prefix = request.param, SERVICES[request.param]
    port = free_port()
    env = {
        **os.environ,
        f"{prefix}PORT": str(port),
        f"{prefix}KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        f"{prefix}MONGODB_URI": mongodb_uri,
        f"{prefix}MONGODB_DATABASE": unique,
        f"{prefix}API_KEYS": "test-key",
        f"{prefix}TOPIC_PREFIX": unique,
        "XERO_CONNECTOR_TOKEN_KEYS": Fernet.generate_key().decode(),
    }
    module = name.replace("-", "_") + ".main"
    proc = subprocess.Popen([sys.executable, "-m", module], env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            if proc.poll() is not None:  # pytest.fail is not retried: the process is gone
                pytest.fail(proc.stderr.read().decode() if proc.stderr else f"{name} exited")
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200

        eventually_sync(healthy, what=f"{name} to answer /healthz", timeout=30, interval=0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_service_answers_ops_endpoints(service_url: str) -> None:
    assert httpx.get(f"{service_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{service_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"kafka": True, "mongodb": True}
    metrics = httpx.get(f"{service_url}/metrics")
    assert metrics.status_code == 200 and "python_info" in metrics.text
    assert httpx.get(f"{service_url}/docs").status_code == 200
    assert httpx.get(f"{service_url}/openapi.json").json()["info"]["title"] in SERVICES


def test_readiness_fails_when_kafka_is_unreachable(
    kafka_bootstrap: str, mongodb_uri: str, unique: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SYNC_LOG_PORT": str(port),
        "SYNC_LOG_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "SYNC_LOG_MONGODB_URI": mongodb_uri,
        "SYNC_LOG_MONGODB_DATABASE": unique,
        # The read API alone: it needs no Kafka to start, and must say Kafka is unreachable.
        "SYNC_LOG_CONSUMER_ENABLED": "false",
    }
    proc = subprocess.Popen([sys.executable, "-m", "sync_log.main"], env=env)
    try:
        response = eventually_sync(
            lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10),
            what="sync-log to answer /readyz",
            timeout=30,
            interval=0.2,
        )
        assert response.status_code == 503
        assert response.json()["checks"] == {"kafka": False, "mongodb": True}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
