"""What the fault tests drive: the stack as ``make run`` starts it, over Kafka and MongoDB
servers of their own (so a test may stop and restart them), with processes it can kill -9,
restart and multiply, organisations connected through the real OAuth flow, bulks of
invoices, and one question asked at the end of every test: is every invoice in Xero exactly
once (or failed with the right code), and is every outcome in the sync log?

    with fault_stack(infra, unique, run_dir, connectors=2) as stack:
        orgs = stack.connect_orgs(["org_a", "org_b"])
        numbers = stack.publish_bulk(orgs, 1000)
        stack.kill("xero-connector")
        stack.wait_settled(orgs, 1000)
        verify(stack, orgs, numbers)
"""

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka.partitioner import DefaultPartitioner

from local_infra import demo_org, free_port
from local_infra.processes import Managed
from local_infra.servers import KafkaServer, MongoServer
from local_infra.stack import Stack
from tests.support.stack import KEY, stack_settings

AUTH = {"Authorization": f"Bearer {KEY}"}
CONNECTOR = "xero-connector"
# Xero minutes pass 20 times faster for the sandbox and the connector alike, so the pacing
# to 60 calls a minute is kept without making a 2,000-invoice bulk wait on the clock.
TIME_SCALE = 20.0


@dataclass
class Infra:
    """Kafka and the MongoDB-wire server, owned by the fault tests: stopped and started at will."""

    kafka: KafkaServer
    mongo: MongoServer

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap_servers

    @property
    def mongodb_uri(self) -> str:
        return self.mongo.uri

    def start(self) -> None:
        for server in (self.kafka, self.mongo):
            server.start()
        for server in (self.kafka, self.mongo):
            server.wait_ready()

    def stop(self) -> None:
        for server in (self.kafka, self.mongo):
            server.stop()


@contextmanager
def private_infra(workdir: Path) -> Iterator[Infra]:
    infra = Infra(
        KafkaServer(port=free_port(), data_dir=workdir / "kafka"),
        MongoServer(port=free_port(), data_dir=workdir / "mongo"),
    )
    try:
        infra.start()
        yield infra
    finally:
        infra.stop()


@dataclass
class Org:
    org_id: str
    tenant_id: str


@dataclass
class FaultStack(Stack):
    """The ``make run`` stack plus what a fault test needs: extra environment per process,
    more connector instances, kill -9 and restart."""

    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def _sandbox_env(self) -> dict[str, str]:
        return super()._sandbox_env() | self.extra_env.get("xero-sandbox", {})

    def _service_envs(self) -> dict[str, dict[str, str]]:
        envs = super()._service_envs()
        return {name: env | self.extra_env.get(name, {}) for name, env in envs.items()}

    # -- processes -----------------------------------------------------------------------
    def process(self, name: str) -> Managed:
        return next(p for p in self.processes if p.name == name)

    def add_connector(self) -> str:
        """One more connector instance in the same consumer group; returns its name."""
        first = self.process(CONNECTOR)
        name = f"{CONNECTOR}-{sum(p.name.startswith(CONNECTOR) for p in self.processes) + 1}"
        port = free_port()
        self._spawn(name, first.command[-1], first.env | {"XERO_CONNECTOR_PORT": str(port)})
        self._wait_ready(name, f"http://127.0.0.1:{port}/readyz")
        return name

    def ready_url(self, name: str) -> str:
        if name.startswith(CONNECTOR):  # every instance has its own port
            return f"http://127.0.0.1:{self.process(name).env['XERO_CONNECTOR_PORT']}/readyz"
        return f"{self.urls[name]}/readyz"

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        process = self.process(name)
        assert process.proc is not None and process.exit_code() is None, f"{name} is not running"
        os.killpg(process.proc.pid, signal.SIGKILL)
        process.proc.wait(timeout=10)

    def restart(self, name: str) -> None:
        process = self.process(name)
        assert process.exit_code() is not None, f"{name} is still running"
        process.start()
        self._wait_ready(name, self.ready_url(name))

    def unexpected_deaths(self, killed: Collection[str] = ()) -> list[str]:
        return [
            f"{p.name} exited {p.exit_code()}:\n" + "\n".join(p.tail)
            for p in self.processes
            if p.exit_code() is not None and p.name not in killed
        ]

    # -- organisations -------------------------------------------------------------------
    def connect_orgs(self, org_ids: list[str], **settings: Any) -> list[Org]:
        orgs = []
        connector = self.settings.xero_connector_url
        for org_id in org_ids:
            tenant = demo_org.create_tenant(self.settings.sandbox_url)
            demo_org.connect(connector, KEY, org_id, tenant)
            demo_org.configure(connector, KEY, org_id)
            if settings:
                self.put_settings(org_id, **settings)
            orgs.append(Org(org_id, tenant))
        return orgs

    def put_settings(self, org_id: str, **changes: Any) -> None:
        url = f"{self.settings.xero_connector_url}/v1/orgs/{org_id}/settings"
        current = expect(httpx.get(url, headers=AUTH, timeout=15), 200)
        expect(httpx.put(url, headers=AUTH, json=current | changes, timeout=15), 200)

    def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.settings.sandbox_url}{path}", timeout=30, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    # -- invoices ------------------------------------------------------------------------
    def publish_bulk(
        self, orgs: list[Org], per_org: int, customers: int = 20, first: int = 0
    ) -> list[str]:
        """``per_org`` new invoices (numbered from ``first``) for each organisation through
        the batch ingest API, in batches of 500; returns their invoice numbers."""
        numbers = []
        for org in orgs:
            invoices = [
                bulk_invoice(org.org_id, n, customers) for n in range(first, first + per_org)
            ]
            for start in range(0, len(invoices), 500):
                chunk = invoices[start : start + 500]
                url = f"{self.settings.invoice_events_url}/v1/invoices/batch"
                body = expect(
                    httpx.post(url, headers=AUTH, json={"invoices": chunk}, timeout=120), 202
                )
                assert body["accepted"] == len(chunk), body
            numbers += [i["invoice_number"] for i in invoices]
        return numbers

    def stats(self, org_id: str) -> dict[str, int]:
        url = f"{self.settings.sync_log_url}/v1/stats"
        by_status: dict[str, int] = expect(
            httpx.get(url, headers=AUTH, params={"org_id": org_id}, timeout=30), 200
        )["by_status"]
        return by_status

    def settled(self, orgs: list[Org], per_org: int, synced: bool) -> tuple[int, int]:
        """(invoices done, invoices expected) over the organisations: done is synced, or
        with ``synced=False`` synced or failed."""
        done = 0
        for org in orgs:
            by_status = self.stats(org.org_id)
            done += by_status.get("synced", 0) + (0 if synced else by_status.get("failed", 0))
        return done, per_org * len(orgs)

    def wait_settled(
        self,
        orgs: list[Org],
        per_org: int,
        timeout_s: float = 240,
        killed: Collection[str] = (),
        synced: bool = True,
    ) -> float:
        """Wait until every invoice is synced in the sync log (with ``synced=False``: has an
        outcome, synced or failed); returns when, in monotonic seconds. An invoice that failed
        as ``xero_unavailable`` is not done yet: the connector retries it by itself. Fails
        with the processes' last lines when they do not settle."""
        deadline = time.monotonic() + timeout_s
        seen: Any = None
        while time.monotonic() < deadline:
            deaths = self.unexpected_deaths(killed)
            assert not deaths, "\n\n".join(deaths)
            try:
                done, total = self.settled(orgs, per_org, synced)
                seen = (done, total)
                if done >= total:
                    return time.monotonic()
            except (httpx.TransportError, AssertionError) as exc:
                seen = repr(exc)
            time.sleep(0.5)
        tails = "\n\n".join(f"{p.name}:\n" + "\n".join(list(p.tail)[-15:]) for p in self.processes)
        raise AssertionError(f"not settled in {timeout_s:.0f}s: {seen}\n\n{tails}")

    def wait_progress(self, orgs: list[Org], at_least: int, timeout_s: float = 120) -> None:
        """Wait until at least ``at_least`` invoices of the organisations are in Xero."""
        deadline = time.monotonic() + timeout_s
        count = 0
        while time.monotonic() < deadline:
            count = sum(len(self.xero_invoices(org)) for org in orgs)
            if count >= at_least:
                return
            time.sleep(0.2)
        raise AssertionError(f"only {count} invoices reached Xero in {timeout_s:.0f}s")

    def xero_invoices(self, org: Org) -> list[dict[str, Any]]:
        body = self.sandbox("GET", f"/_sandbox/orgs/{org.tenant_id}/invoices")
        return [i for i in body["Invoices"] if i.get("Status") not in ("DELETED", "VOIDED")]

    def sync_log_rows(self, org: Org) -> list[dict[str, Any]]:
        """Every invoice of the organisation by its current status, through the paged API."""
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"org_id": org.org_id, "limit": 500}
            if cursor:
                params["cursor"] = cursor
            url = f"{self.settings.sync_log_url}/v1/invoices"
            page = expect(httpx.get(url, headers=AUTH, params=params, timeout=60), 200)
            rows += page["items"]
            if not (cursor := page.get("next_cursor")):
                return rows


@dataclass
class Verdict:
    """What ended up where, for the closing table."""

    invoices: int
    synced: int
    lost: int
    duplicates: int


def verify(stack: FaultStack, orgs: list[Org], numbers: list[str]) -> Verdict:
    """Every invoice is in Xero exactly once, nothing else is, and each is synced in the sync
    log with the InvoiceID Xero holds. (Tests whose fault fails invoices on purpose check
    those outcomes themselves, then let them be re-synced before calling this.)"""
    expected = Counter(numbers)
    in_xero: Counter[str] = Counter()
    xero_ids: dict[str, str] = {}
    rows: dict[str, dict[str, Any]] = {}
    for org in orgs:
        for item in stack.xero_invoices(org):
            in_xero[item["InvoiceNumber"]] += 1
            xero_ids[item["InvoiceNumber"]] = item["InvoiceID"]
        rows |= {row["invoice_number"]: row for row in stack.sync_log_rows(org)}
    duplicates = sum(count - 1 for count in in_xero.values() if count > 1)
    strangers = set(in_xero) - set(expected)
    lost, wrong = [], []
    for number in expected:
        row = rows.get(number)
        if row is None:
            lost.append(number)
        elif row["status"] == "synced":
            if in_xero[number] == 0 or row.get("xero_invoice_id") != xero_ids.get(number):
                wrong.append((number, "synced but not in Xero as recorded", row))
        else:
            wrong.append((number, "unexpected status", row))
    assert not strangers, f"invoices in Xero nobody sent: {sorted(strangers)[:5]}"
    assert duplicates == 0, f"{duplicates} duplicates: " + str(
        [n for n, c in in_xero.items() if c > 1][:10]
    )
    assert not lost, f"{len(lost)} invoices never reached the sync log: {lost[:10]}"
    assert not wrong, f"{len(wrong)} wrong outcomes, e.g. {wrong[:3]}"
    synced = sum(1 for n in expected if rows[n]["status"] == "synced")
    return Verdict(len(expected), synced, len(lost), duplicates)


def error_code(row: dict[str, Any]) -> str:
    code: str = (row.get("last_error") or {}).get("error_code") or ""
    return code


def bulk_invoice(org_id: str, n: int, customers: int) -> dict[str, Any]:
    today = date.today()
    customer = n % customers
    return {
        "org_id": org_id,
        "invoice_id": f"inv_{org_id}_{n:05d}",
        "invoice_number": f"{org_id.upper()}-{n:05d}",
        "version": 1,
        "customer": {"id": f"cus_{org_id}_{customer}", "name": f"Customer {customer} of {org_id}"},
        "currency": "NZD",
        "issue_date": today.isoformat(),
        "due_date": (today + timedelta(days=30)).isoformat(),
        "status": "issued",
        "line_amount_type": "exclusive",
        "lines": [
            {
                "description": f"Consulting, item {n}",
                "quantity": "2",
                "unit_price": f"{100 + n % 50}.00",
                "tax_code": "GST15",
                "revenue_category": "consulting",
            }
        ],
    }


def orgs_on_every_partition(prefix: str, partitions: int) -> list[str]:
    """Organisation ids whose events land on partitions 0..n-1 (events are keyed by org_id),
    so every connector instance has work whatever the assignment."""
    partitioner = DefaultPartitioner()
    chosen: dict[int, str] = {}
    n = 0
    while len(chosen) < partitions:
        org_id = f"{prefix}_{n}"
        partition = partitioner(org_id.encode(), list(range(partitions)), list(range(partitions)))
        chosen.setdefault(partition, org_id)
        n += 1
    return [chosen[p] for p in range(partitions)]


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: "
        f"{response.status_code} {response.text[:500]}"
    )
    return response.json() if response.content else None


@contextmanager
def fault_stack(
    infra: Infra,
    unique: str,
    run_dir: Path,
    *,
    connectors: int = 1,
    extra_env: dict[str, dict[str, str]] | None = None,
) -> Iterator[FaultStack]:
    settings = stack_settings(infra.bootstrap, infra.mongodb_uri, unique, run_dir)
    env = {
        CONNECTOR: {
            "XERO_CONNECTOR_XERO_TIME_SCALE": str(TIME_SCALE),
            # An invoice that failed as xero_unavailable is retried after 1, 2, 4 s, not
            # minutes: a Xero minute is 3 s here.
            "XERO_CONNECTOR_UNAVAILABLE_RETRY_SECONDS": "1",
            "XERO_CONNECTOR_RETRY_POLL_SECONDS": "0.5",
            # A killed connector's organisations are taken over when its writer lease ends:
            # 20 s here (time runs fast), with calls bounded to fit inside it.
            "XERO_CONNECTOR_WRITER_LEASE_SECONDS": "20",
            "XERO_CONNECTOR_HTTP_POOL_TIMEOUT": "3",
            "XERO_CONNECTOR_HTTP_CONNECT_TIMEOUT": "2",
            "XERO_CONNECTOR_HTTP_WRITE_TIMEOUT": "3",
            "XERO_CONNECTOR_HTTP_READ_TIMEOUT": "8",
        },
    }
    for name, values in (extra_env or {}).items():
        env[name] = env.get(name, {}) | values
    # Every process's output goes to run_dir/stack.log, to read after a failure.
    log = (run_dir / "stack.log").open("a", buffering=1)
    lock = threading.Lock()

    def sink(name: str, line: str) -> None:
        with lock:
            log.write(f"{time.monotonic():.2f} {name:<17}| {line}\n")

    stack = FaultStack(settings, sink, extra_env=env)
    try:
        stack.start()
        stack.sandbox("PUT", "/_sandbox/limits", json={"time_scale": TIME_SCALE})
        for _ in range(connectors - 1):
            stack.add_connector()
        yield stack
    finally:
        stack.stop()
        log.close()
