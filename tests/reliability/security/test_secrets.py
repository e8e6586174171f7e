"""Secrets at rest and in transit out of the services.

Tokens are stored as one Fernet blob and the Fernet key rotates: a key prepended to
``XERO_CONNECTOR_TOKEN_KEYS`` encrypts every later write while the old one still decrypts.
And over a whole flow through the stack ``make run`` starts, no access token, refresh token,
authorization code, PKCE verifier, client secret, Fernet key or API key shows in any process's
log line, any answer of the services' APIs, any ``/metrics`` text, any Kafka record (the DLQ's
headers included). The real values are collected by decrypting what the connector stored.

Also covered elsewhere: tests/integration/xero_connector/test_connections.py (the stored
document holds no plaintext token and the API no token field) and test_logs.py (the connector
in-process, logging at DEBUG, over connect, refresh, check, a replayed callback, disconnect).
"""

import asyncio
import base64
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from cryptography.fernet import Fernet, InvalidToken
from pymongo import AsyncMongoClient, MongoClient

from local_infra.demo import Demo
from local_infra.demo_org import DEMO_ORG_ID
from local_infra.stack import Stack, running_stack
from service_kit.events import Topics
from tests.integration.invoice_events.support import read_topic
from tests.integration.xero_connector.support import Sandbox
from tests.reliability.security.support import CONNECTOR_KEY, bearer, connect, services
from tests.support.stack import stack_settings

ORG = "org_rotation"

# -- tokens at rest and key rotation ---------------------------------------------------------------


def opened_by(blob: bytes, key: str) -> dict[str, str] | None:
    """The tokens ``key`` alone decrypts from ``blob``, or None."""
    try:
        opened: dict[str, str] = json.loads(Fernet(key).decrypt(blob))
    except InvalidToken:
        return None
    return opened


async def stored_tokens(db: Any, org_id: str) -> tuple[dict[str, Any], bytes]:
    doc = await db["connections"].find_one({"_id": org_id})
    assert doc is not None and doc["tokens"], doc
    return doc, bytes(doc["tokens"])


def assert_sealed(doc: dict[str, Any], blob: bytes, tokens: dict[str, str]) -> None:
    """One Fernet blob (version byte 0x80, base64url), no token in the document in any form."""
    assert blob.startswith(b"gAAAAA")
    assert base64.urlsafe_b64decode(blob)[0] == 0x80
    raw = repr(doc).encode() + blob
    for token in tokens.values():
        for form in (token, base64.b64encode(token.encode()).decode(), quote(token, safe="")):
            assert form.encode() not in raw


async def test_tokens_are_encrypted_at_rest_and_the_fernet_key_rotates(
    kafka_bootstrap: str,
    mongodb_uri: str,
    unique: str,
    sandbox_url: str,
    sandbox: httpx.AsyncClient,
) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    xero = Sandbox(sandbox)
    tenant = await xero.create_org(name="Rotation Ltd")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    db = mongo[f"{unique[:50]}_xc"]

    def connector(keys: str) -> Any:
        names = ("xero-connector",)
        return services(
            kafka_bootstrap, mongodb_uri, unique, sandbox_url, names=names, token_keys=keys
        )

    async def check(http: httpx.AsyncClient) -> None:
        """A call that needs the stored tokens: the mapping check reads Xero."""
        answer = await http.post(f"/v1/orgs/{ORG}/mappings/check", headers=bearer(CONNECTOR_KEY))
        assert answer.status_code == 200, answer.text

    try:
        async with connector(key_a) as apps:
            await connect(apps["xero-connector"].http, xero, ORG, tenant)
        doc, blob = await stored_tokens(db, ORG)
        first = opened_by(blob, key_a)
        assert first is not None and set(first) == {"access_token", "refresh_token"}
        assert opened_by(blob, key_b) is None
        assert_sealed(doc, blob, first)

        # Rotation: B is prepended. What A sealed still opens; B seals the next write.
        async with connector(f"{key_b},{key_a}") as apps:
            http = apps["xero-connector"].http
            await check(http)
            assert (await stored_tokens(db, ORG))[1] == blob  # a read writes nothing
            await xero.faults(expire_access_tokens=True, tenant_id=tenant)
            await check(http)  # Xero says TokenExpired: a refresh, whose tokens are written
            assert await xero.token_calls("refresh_token") == 1
            doc, blob = await stored_tokens(db, ORG)
            second = opened_by(blob, key_b)
            assert second is not None, "the refreshed tokens are not sealed with the new key"
            assert opened_by(blob, key_a) is None
            assert second["refresh_token"] != first["refresh_token"]
            assert second["access_token"] != first["access_token"]
            assert_sealed(doc, blob, second)
            # A new authorization's PKCE verifier is sealed with the new key too.
            started = await http.post(f"/v1/orgs/{ORG}/connection", headers=bearer(CONNECTOR_KEY))
            state = parse_qs(urlsplit(started.json()["authorize_url"]).query)["state"][0]
            pending = await db["authorizations"].find_one({"_id": state})
            assert pending is not None
            verifier = bytes(pending["code_verifier"])
            assert Fernet(key_b).decrypt(verifier) and opened_by(verifier, key_a) is None

        # A retired: everything it sealed has been rewritten, so B alone serves.
        async with connector(key_b) as apps:
            await check(apps["xero-connector"].http)

        # B retired too early: fail closed (expired, no token used, no 500), not stuck.
        key_c = Fernet.generate_key().decode()
        async with connector(key_c) as apps:
            http = apps["xero-connector"].http
            status = await http.get(f"/v1/orgs/{ORG}/connection", headers=bearer(CONNECTOR_KEY))
            assert status.status_code == 200, status.text
            assert status.json()["status"] == "expired"
            assert "XERO_CONNECTOR_TOKEN_KEYS" in status.json()["reason"]
            refused = await http.post(
                f"/v1/orgs/{ORG}/mappings/check", headers=bearer(CONNECTOR_KEY)
            )
            assert refused.json()["error"]["code"] == "connection_expired"
            assert (await stored_tokens(db, ORG))[1] == blob  # nothing written: B would open it
            await connect(http, xero, ORG, tenant)  # a Reconnect replaces what nobody can open
            await check(http)
            assert opened_by((await stored_tokens(db, ORG))[1], key_c) is not None
    finally:
        await mongo.close()


# -- no secret anywhere over a whole flow -------------------------------------------------------


@dataclass
class Captured:
    """Everything the test saw come out of the services, by where it came from."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)
    records: list[tuple[str, str]] = field(default_factory=list)

    def sink(self, name: str, line: str) -> None:
        self.lines.append((name, line))

    def texts(self) -> Iterator[tuple[str, str, str]]:
        for kind, items in (("log", self.lines), ("api", self.answers), ("kafka", self.records)):
            for where, text in items:
                yield kind, where, text


@dataclass
class Client:
    """httpx with every answer captured: status line, headers and body."""

    captured: Captured
    key: str

    def call(self, method: str, url: str, expect: int | None = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        response = httpx.request(method, url, headers=headers, timeout=20, **kwargs)
        self.captured.answers.append(
            (f"{method} {url} -> {response.status_code}", f"{response.headers}\n{response.text}")
        )
        if expect is not None:
            assert response.status_code == expect, (method, url, response.text[:300])
        return response


def tokens_of(stack: Stack) -> dict[str, str]:
    """The connection's tokens, decrypted with the stack's own key."""
    client: MongoClient[dict[str, Any]] = MongoClient(stack.mongodb)
    try:
        db = client[stack.settings.database("xero_connector")]
        doc = db["connections"].find_one({"_id": DEMO_ORG_ID})
    finally:
        client.close()
    assert doc is not None and doc["tokens"], doc
    opened = opened_by(bytes(doc["tokens"]), stack.settings.xero_connector_token_keys)
    assert opened is not None
    return opened


def verifier_of(stack: Stack, state: str) -> str:
    client: MongoClient[dict[str, Any]] = MongoClient(stack.mongodb)
    try:
        db = client[stack.settings.database("xero_connector")]
        doc = db["authorizations"].find_one({"_id": state})
    finally:
        client.close()
    assert doc is not None
    key = stack.settings.xero_connector_token_keys
    return Fernet(key).decrypt(bytes(doc["code_verifier"])).decode()


def reconnect(stack: Stack, api: Client, secrets: dict[str, str], label: str) -> None:
    """The OAuth dance by hand, keeping the code and the verifier it used."""
    connector = stack.settings.xero_connector_url
    started = api.call("POST", f"{connector}/v1/orgs/{DEMO_ORG_ID}/connection").json()
    url = started["authorize_url"]
    secrets[f"PKCE verifier ({label})"] = verifier_of(
        stack, parse_qs(urlsplit(url).query)["state"][0]
    )
    consent = httpx.get(f"{url}&sandbox_tenant_id={stack.tenant_id}", timeout=10)
    assert consent.status_code == 302, consent.text
    callback = consent.headers["location"]
    secrets[f"authorization code ({label})"] = parse_qs(urlsplit(callback).query)["code"][0]
    api.call("GET", callback, headers={"Authorization": ""})
    for name, value in tokens_of(stack).items():
        secrets[f"{name} ({label})"] = value


def produce_garbage(bootstrap: str, topic: str) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            headers = [("ce_type", b"invoice.created.v1"), ("content-type", b"application/json")]
            await producer.send_and_wait(
                topic,
                b'{"org_id": "org_demo", "garbage": tru',
                key=DEMO_ORG_ID.encode(),
                headers=headers,
            )
        finally:
            await producer.stop()

    asyncio.run(send())


def every_record(bootstrap: str, names: Topics) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        found = []
        for topic in names.all():
            for r in await read_topic(bootstrap, topic):
                headers = "; ".join(f"{k}={v.decode(errors='replace')}" for k, v in r.headers)
                value = (r.value or b"").decode(errors="replace")
                found.append((f"{topic}@{r.partition}:{r.offset}", f"{headers}\n{value}"))
        return found

    return asyncio.run(read())


def forms(secret: str) -> set[str]:
    """The ways a secret could be written out."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


def test_no_secret_in_logs_answers_metrics_or_kafka_over_a_whole_flow(
    kafka_bootstrap: str,
    mongodb_uri: str,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for prefix in ("INVOICE_EVENTS_", "XERO_CONNECTOR_", "SYNC_LOG_"):
        monkeypatch.setenv(f"{prefix}LOG_LEVEL", "DEBUG")  # the most a process would ever say
    api_key = f"sec-api-key-{uuid.uuid4().hex}"
    client_secret = f"sec-client-secret-{uuid.uuid4().hex}"
    token_key = Fernet.generate_key().decode()
    settings = stack_settings(
        kafka_bootstrap,
        mongodb_uri,
        unique,
        tmp_path,
        dev_api_key=api_key,
        xero_connector_token_keys=token_key,
        sandbox_client_secret=client_secret,
    )
    captured = Captured()
    secrets: dict[str, str] = {
        "API key": api_key,
        "client secret": client_secret,
        "Fernet key": token_key,
        "client credentials (Basic)": base64.b64encode(
            f"sandbox:{client_secret}".encode()
        ).decode(),
    }
    names = Topics.with_prefix(unique)
    with running_stack(settings, captured.sink) as stack:
        api = Client(captured, api_key)
        s = stack.settings
        connector, events, log = s.xero_connector_url, s.invoice_events_url, s.sync_log_url
        org = f"{connector}/v1/orgs/{DEMO_ORG_ID}"
        for name, value in tokens_of(stack).items():
            secrets[f"{name} (make run's connect)"] = value
        demo = Demo.from_settings(s, run=uuid.uuid4().hex[:6], tenant_id=stack.tenant_id)

        reconnect(stack, api, secrets, "reconnect")
        clean = demo.invoice("clean")
        api.call("POST", f"{events}/v1/invoices", 202, json=clean)
        demo.wait_for(clean, "synced")

        # Expired access tokens: the next Xero call refreshes them.
        demo.call("PUT", f"{s.sandbox_url}/_sandbox/faults", json={"expire_access_tokens": True})
        after_refresh = demo.invoice("refresh")
        api.call("POST", f"{events}/v1/invoices", 202, json=after_refresh)
        demo.wait_for(after_refresh, "synced")
        refreshed = tokens_of(stack)
        assert refreshed["refresh_token"] not in secrets.values(), "no refresh happened"
        for name, value in refreshed.items():
            secrets[f"{name} (refreshed)"] = value

        eur = demo.invoice("eur", currency="EUR")
        api.call("POST", f"{events}/v1/invoices", 202, json=eur)
        demo.wait_for(eur, "failed", "currency_not_enabled")

        produce_garbage(stack.kafka, names.invoice_events)

        def garbage_logged() -> tuple[bool, Any, str]:
            query = {"org_id": DEMO_ORG_ID, "error_code": "invalid_event"}
            items = api.call("GET", f"{log}/v1/sync-log", params=query).json()["items"]
            return bool(items), items, f"{len(items)} invalid_event entries"

        demo.wait_until("the garbage record in the sync log", garbage_logged)
        resync = {"org_id": DEMO_ORG_ID, "invoice_ids": [eur["invoice_id"]]}
        batch = api.call("POST", f"{events}/v1/resync", 202, json=resync).json()["batch_id"]

        def batch_done() -> tuple[bool, Any, str]:
            report = api.call("GET", f"{log}/v1/batches/{batch}", None)
            done = report.status_code == 200 and report.json()["pending"] == 0
            return done, report, report.text[:200]

        demo.wait_until(f"batch {batch} to finish", batch_done)

        # Every read an operator or a client makes.
        for method, url, expect, kwargs in [
            ("GET", f"{org}/connection", 200, {}),
            ("GET", f"{org}/settings", 200, {}),
            ("GET", f"{org}/mappings", 200, {}),
            ("POST", f"{org}/mappings/check", 200, {}),
            ("GET", f"{events}/v1/invoices/{DEMO_ORG_ID}/{clean['invoice_id']}", 200, {}),
            ("POST", f"{events}/v1/invoices/{DEMO_ORG_ID}/inv_unknown/sync", 404, {}),
            ("POST", f"{events}/v1/invoices", 422, {"json": {"org_id": DEMO_ORG_ID}}),
            ("GET", f"{log}/v1/sync-log", 200, {"params": {"org_id": DEMO_ORG_ID}}),
            ("GET", f"{log}/v1/sync-log", 200, {"headers": {"Accept": "text/csv"}}),
            ("GET", f"{log}/v1/invoices", 200, {"params": {"org_id": DEMO_ORG_ID}}),
            ("GET", f"{log}/v1/invoices/{DEMO_ORG_ID}/{eur['invoice_id']}", 200, {}),
            ("GET", f"{log}/v1/stats", 200, {}),
            ("GET", f"{log}/v1/batches/{batch}", 200, {}),
            ("GET", f"{log}/v1/connections", 200, {}),
            ("GET", f"{log}/", 307, {}),  # the old page sends the browser to the console
            ("GET", f"{s.sandbox_url}/_sandbox/requests", 200, {}),
            (
                "GET",
                f"{connector}/v1/orgs/{DEMO_ORG_ID}/connection",
                401,
                {"headers": {"Authorization": f"Bearer {api_key[:-1]}x"}},
            ),
        ]:
            api.call(method, url, expect, **kwargs)
        for url in (events, connector, log):
            api.call("GET", f"{url}/metrics")
            api.call("GET", f"{url}/openapi.json")
            api.call("GET", f"{url}/readyz")

        api.call("DELETE", f"{org}/connection")  # revokes at Xero
        reconnect(stack, api, secrets, "after disconnect")
        assert stack.dead() is None
        captured.records = every_record(stack.kafka, names)
        time.sleep(1)  # let the last lines through the pipes
    # Out of the block: every process stopped, its last lines captured too.

    secret_forms = {name: forms(value) for name, value in secrets.items()}
    leaks = [
        (kind, where, name, text[:300])
        for kind, where, text in captured.texts()
        for name, variants in secret_forms.items()
        if any(v in text for v in variants)
    ]
    assert not leaks, leaks[:5]

    # The scan saw what it should have: every process's lines, every kind of output.
    by_process = {name for name, _ in captured.lines}
    assert {"invoice-events", "xero-connector", "sync-log"} <= by_process
    assert len(captured.lines) > 200
    text = "\n".join(t for _, _, t in captured.texts())
    assert "xero.token.refreshed" in text and "xero.connected" in text
    assert "dlq_reason" in text and "http_requests_total" in text
    assert stack.tenant_id in text  # the scan finds what is there
    assert len(secrets) >= 16 and all(len(v) >= 16 for v in secrets.values()), secrets.keys()
    per_process = Counter(name for name, _ in captured.lines)
    print(  # the report's figures
        f"\nscanned {len(secrets)} secrets in {len(captured.lines)} log lines {dict(per_process)}, "
        f"{len(captured.answers)} answers, {len(captured.records)} Kafka records"
    )
