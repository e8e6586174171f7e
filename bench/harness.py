"""Pieces the measurements share: the sandbox and connector processes as deployed (their
environments built from their settings classes), a follower of a results topic, and CPU and
peak-RSS readings of service processes."""

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic_settings import BaseSettings

from bench.common import free_port, service_process
from tests.integration.xero_connector.support import sandbox_xero
from xero_connector.config import Settings as ConnectorSettings
from xero_sandbox.config import Settings as SandboxSettings

KEY = "bench-key"  # the API key of every service process a benchmark starts

# Xero's real limits, a Xero minute lasting one real second.
REAL_LIMITS = {"per_minute": 60, "concurrent": 5, "app_per_minute": 10_000, "time_scale": 60.0}
# "Unthrottled": limits far above anything a run reaches.
NO_LIMITS = {
    "per_minute": 10_000_000,
    "concurrent": 10_000,
    "app_per_minute": 10_000_000,
    "time_scale": 1.0,
}
# The connector's own client-side limiter, matched to the unthrottled sandbox.
CONNECTOR_NO_LIMITS = {
    "xero_per_minute": 10_000_000,
    "xero_concurrent": 50,
    "xero_app_per_minute": 10_000_000,
}


def settings_env(settings: type[BaseSettings], values: Mapping[str, object]) -> dict[str, str]:
    """``values``, by field name, as the environment a service reads them from. A name the
    settings class lacks fails here: the service itself would ignore it silently."""
    unknown = sorted(set(values) - set(settings.model_fields))
    if unknown:
        raise ValueError(f"{settings.__module__} has no setting {unknown}")
    prefix = settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper(): str(value) for name, value in values.items()}


@dataclass(frozen=True)
class Running:
    """A service process and where it answers."""

    url: str
    proc: subprocess.Popen[bytes]


@contextmanager
def sandbox_process(limits: Mapping[str, float]) -> Iterator[Running]:
    """The Xero sandbox (``python -m xero_sandbox.main``) under ``limits``, quiet."""
    port = free_port()
    values: dict[str, object] = {**limits, "port": port, "per_day": 100_000_000}
    values |= {"log_level": "warning", "request_log_size": 0}
    with service_process("xero_sandbox.main", settings_env(SandboxSettings, values), port) as proc:
        yield Running(f"http://127.0.0.1:{port}", proc)


@contextmanager
def connector_process(
    kafka: str, mongo: str, prefix: str, sandbox_url: str, **settings: object
) -> Iterator[Running]:
    """A connector instance (``python -m xero_connector.main``): its topics, database and
    consumer group named by ``prefix``, Xero at the sandbox; ``settings`` by field name on top.
    Instances of one ``prefix`` share their store and consumer group."""
    port = free_port()
    values: dict[str, object] = {
        "port": port,
        "kafka_bootstrap_servers": kafka,
        "mongodb_uri": mongo,
        "mongodb_database": f"{prefix}_xc",
        "consumer_group": f"{prefix}_xc",
        "topic_prefix": prefix,
        "api_keys": KEY,
        "log_level": "WARNING",
    } | sandbox_xero(sandbox_url)
    env = settings_env(ConnectorSettings, values | settings)
    with service_process("xero_connector.main", env, port) as proc:
        yield Running(f"http://127.0.0.1:{port}", proc)


@dataclass
class Connected:
    """What ``setup_org`` needs of a connector: its HTTP API (a client of a connector process,
    authorised with ``KEY``)."""

    http: httpx.AsyncClient


class TopicFollower:
    """Counts the records arriving on a topic, from its beginning, with the time of the last."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.count = 0
        self.last_at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "TopicFollower":
        self._task = asyncio.create_task(self._follow())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions: set[int] = set()
            while not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while True:
                batches = await consumer.getmany(timeout_ms=100, max_records=5000)
                got = sum(len(b) for b in batches.values())
                if got:
                    self.count += got
                    self.last_at = time.monotonic()
        finally:
            await consumer.stop()

    async def wait_for(self, count: int, within: float, producers: Sequence[Running] = ()) -> None:
        """Until ``count`` records have arrived; fails when ``within`` seconds pass first or
        one of the ``producers`` exits (it would never come otherwise)."""
        deadline = time.monotonic() + within
        while self.count < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.count} of {count} records on {self.topic}")
            for producer in producers:
                if producer.proc.poll() is not None:
                    raise RuntimeError(f"{producer.url} exited with {producer.proc.returncode}")
            await asyncio.sleep(0.05)


@dataclass
class RssPoller:
    """Peak resident memory per named service, polled in a thread (max over its instances and
    their child processes)."""

    pids: dict[str, list[int]]
    interval: float = 0.2
    peak_mb: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _rss(self, pid: int) -> float:
        try:
            proc = psutil.Process(pid)
            total: int = proc.memory_info().rss
            for child in proc.children(recursive=True):
                total += child.memory_info().rss
            return total / 2**20
        except psutil.Error:
            return 0.0

    def _poll(self) -> None:
        while not self._stop.is_set():
            for name, pids in self.pids.items():
                for pid in pids:
                    self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), self._rss(pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssPoller":
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _role(proc: psutil.Process) -> str:
    cmd = " ".join(proc.cmdline())
    for role in ("xero_sandbox", "invoice_events", "xero_connector", "sync_log", "ferretdb"):
        if role in cmd:
            return role.replace("_", "-")
    return "kafka" if "kafka" in cmd else proc.name()


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) so far of this process and each role among its descendants
    (services, FerretDB, Kafka when this process started them)."""
    me = psutil.Process()
    totals: dict[str, float] = {"bench-harness": sum(me.cpu_times()[:2])}
    for child in me.children(recursive=True):
        try:
            times = child.cpu_times()
            role = _role(child)
        except psutil.Error:
            continue
        totals[role] = totals.get(role, 0.0) + times.user + times.system
    return totals


def stolen_seconds() -> float | None:
    """CPU time the hypervisor gave other virtual machines while this one's was runnable, so
    far, summed over the cores (Linux's ``steal``; None where the system does not say). This
    host's speed moves with it: a figure measured while it rose was measured on less CPU."""
    return getattr(psutil.cpu_times(), "steal", None)


def stolen_between(before: float | None) -> float | None:
    """Seconds stolen since ``before``, a ``stolen_seconds()`` reading."""
    now = stolen_seconds()
    return None if before is None or now is None else round(now - before, 2)


def _differences(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {role: after[role] - before.get(role, 0.0) for role in sorted(after)}


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each role spent between two ``cpu_seconds()`` readings. A process that
    started between them counts whole, its start-up included; one that exited between them
    is missing from the second reading, so its role is undercounted (or left out)."""
    return {role: round(s, 3) for role, s in _differences(before, after).items() if s > 0}


def cpu_share(
    before: dict[str, float], after: dict[str, float], seconds: float
) -> dict[str, float]:
    """Cores used on average by each role between two ``cpu_seconds()`` readings."""
    return {
        role: round(s / seconds, 2)
        for role, s in _differences(before, after).items()
        if s > 0.01 * seconds
    }


def process_cpu(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds (user + system) so far of each process of ``pids`` still running."""
    totals: dict[int, float] = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        totals[pid] = times.user + times.system
    return totals
