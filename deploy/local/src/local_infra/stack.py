"""The whole stack on one machine: what ``make run`` (``local-infra run``) starts.

    with running_stack(StackSettings()) as stack:   # ready: connected, mapped
        ...                                          # stack.dead() names a dead process
    # everything it started is stopped

Order: Kafka + MongoDB (reused when already up, else ``local-infra up``), the topics, the Xero
sandbox with the demo organisation, the three services with every API key set to
``DEV_API_KEY``, then the demo organisation is connected through the real OAuth flow and mapped.
"""

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx

from local_infra import cli, demo_org
from local_infra.processes import LogSink, Managed
from local_infra.servers import pid_alive, port_open, stop_pid
from local_infra.stack_settings import StackSettings


class StackError(RuntimeError):
    """The stack could not start; the message says why and what to do."""


SERVICES = ("invoice-events", "xero-connector", "sync-log")
# The console's dev users, one per role, all with the dev password (printed by make run).
CONSOLE_USERS = ("admin", "operator", "viewer")


@dataclass
class Stack:
    settings: StackSettings
    sink: LogSink
    kafka: str = ""
    mongodb: str = ""
    processes: list[Managed] = field(default_factory=list)
    infra_started: list[str] = field(default_factory=list)
    tenant_id: str = ""
    connection: dict[str, Any] = field(default_factory=dict)
    mapping_check: dict[str, Any] = field(default_factory=dict)

    # -- start ---------------------------------------------------------------------------
    def start(self) -> None:
        self._check_ports()
        self._start_infra()
        asyncio.run(self._create_topics())
        if not self.settings.keep_data:
            self._reset_databases()
        self._spawn("xero-sandbox", "xero_sandbox.main", self._sandbox_env())
        self._wait_ready("xero-sandbox", f"{self.settings.sandbox_url}/healthz")
        self.tenant_id = demo_org.create_tenant(self.settings.sandbox_url)
        for name, env in self._service_envs().items():
            self._spawn(name, name.replace("-", "_") + ".main", env)
        for name in SERVICES:
            self._wait_ready(name, f"{self.urls[name]}/readyz")
        self._spawn("console", "console.main", self._console_env())
        self._wait_ready("console", f"{self.settings.console_url}/readyz")
        key, connector = self.settings.dev_api_key, self.settings.xero_connector_url
        org = demo_org.DEMO_ORG_ID
        self.connection = demo_org.connect(connector, key, org, self.tenant_id)
        self.mapping_check = demo_org.configure(connector, key, org)

    @property
    def urls(self) -> dict[str, str]:
        s = self.settings
        return {
            "invoice-events": s.invoice_events_url,
            "xero-connector": s.xero_connector_url,
            "sync-log": s.sync_log_url,
            "xero-sandbox": s.sandbox_url,
            "console": s.console_url,
        }

    def _check_ports(self) -> None:
        s = self.settings
        ports = {
            "invoice-events": ("INVOICE_EVENTS_PORT", s.invoice_events_port),
            "xero-connector": ("XERO_CONNECTOR_PORT", s.xero_connector_port),
            "sync-log": ("SYNC_LOG_PORT", s.sync_log_port),
            "xero-sandbox": ("XERO_SANDBOX_PORT", s.xero_sandbox_port),
            "console": ("CONSOLE_PORT", s.console_port),
        }
        for name, (env, port) in ports.items():
            if port_open(port):
                raise StackError(
                    f"port {port} for {name} is already in use (is `make run` already running?"
                    f" `ss -ltnp | grep :{port}` shows who has it). Stop that process or choose "
                    f"another port: {env}=<port> make run"
                )

    def _start_infra(self) -> None:
        s = self.settings
        if s.kafka_bootstrap_servers and s.mongodb_uri:
            self.kafka, self.mongodb = s.kafka_bootstrap_servers, s.mongodb_uri
            return
        ports = {"kafka": s.kafka_port, "mongo": s.mongodb_port}
        before = cli._load_state()
        running = {
            name
            for name, info in before.items()
            if pid_alive(info["pid"]) and info["port"] == ports.get(name)
        }
        cli.up(s.kafka_port, s.mongodb_port)
        self.infra_started = [name for name in ports if name not in running]
        self.kafka = s.kafka_bootstrap_servers or f"127.0.0.1:{s.kafka_port}"
        self.mongodb = s.mongodb_uri or f"mongodb://127.0.0.1:{s.mongodb_port}"

    async def _create_topics(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from aiokafka.errors import TopicAlreadyExistsError

        from sync_schemas.topics import ALL_TOPICS

        prefix = self.settings.topic_prefix
        names = [f"{prefix}.{t}" if prefix else t for t in ALL_TOPICS]
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(n, self.settings.topic_partitions, 1) for n in names if n not in existing
            ]
            if missing:
                with suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
        finally:
            await admin.close()

    def _reset_databases(self) -> None:
        # The sandbox keeps nothing between runs, so the services start empty too: a link to a
        # Xero invoice of the previous run's sandbox would point nowhere.
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]] = MongoClient(
            self.mongodb, serverSelectionTimeoutMS=5000
        )
        try:
            for name in ("invoice_events", "xero_connector", "sync_log"):
                client.drop_database(self.settings.database(name))
        finally:
            client.close()

    def _token_key(self) -> str:
        if self.settings.xero_connector_token_keys:
            return self.settings.xero_connector_token_keys
        # A dev key kept beside the run's state, so tokens survive a restart of the connector.
        path = self.settings.run_dir / "token-key"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def console_password(self) -> str:
        """The dev users' password: from the settings, or made once and kept in run_dir."""
        if given := self.settings.console_dev_password.get_secret_value():
            return given
        path = self.settings.run_dir / "console-password"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()

    def _console_env(self) -> dict[str, str]:
        s = self.settings
        # The console's own command hashes the password (argon2): the stack needs no copy.
        hashed = subprocess.run(
            [sys.executable, "-m", "console.passwords"],
            input=self.console_password + "\n",
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        users = [{"name": n, "role": n, "password_hash": hashed} for n in CONSOLE_USERS]
        return {
            **os.environ,
            "CONSOLE_HOST": "127.0.0.1",
            "CONSOLE_PORT": str(s.console_port),
            "CONSOLE_PUBLIC_URL": s.console_url,
            "CONSOLE_INVOICE_EVENTS_URL": s.invoice_events_url,
            "CONSOLE_INVOICE_EVENTS_API_KEY": s.dev_api_key,
            "CONSOLE_XERO_CONNECTOR_URL": s.xero_connector_url,
            "CONSOLE_XERO_CONNECTOR_API_KEY": s.dev_api_key,
            "CONSOLE_SYNC_LOG_URL": s.sync_log_url,
            "CONSOLE_SYNC_LOG_API_KEY": s.dev_api_key,
            "CONSOLE_USERS": json.dumps(users),
            "CONSOLE_SESSION_SECRET": secrets.token_urlsafe(32),
            "CONSOLE_MONGODB_URI": self.mongodb,
            "CONSOLE_MONGODB_DATABASE": s.database("console"),
            "CONSOLE_LOG_JSON": "false",
        }

    def _sandbox_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "XERO_SANDBOX_HOST": "127.0.0.1",
            "XERO_SANDBOX_PORT": str(self.settings.xero_sandbox_port),
            "XERO_SANDBOX_LOG_LEVEL": "warning",
            "XERO_SANDBOX_CLIENT_SECRET": self.settings.sandbox_client_secret.get_secret_value(),
        }

    def _service_envs(self) -> dict[str, dict[str, str]]:
        s = self.settings

        def common(prefix: str, port: int, database: str, group: str | None) -> dict[str, str]:
            env = {
                f"{prefix}HOST": "127.0.0.1",
                f"{prefix}PORT": str(port),
                f"{prefix}KAFKA_BOOTSTRAP_SERVERS": self.kafka,
                f"{prefix}MONGODB_URI": self.mongodb,
                f"{prefix}MONGODB_DATABASE": s.database(database),
                f"{prefix}API_KEYS": s.dev_api_key,
                f"{prefix}TOPIC_PREFIX": s.topic_prefix,
                f"{prefix}TOPIC_PARTITIONS": str(s.topic_partitions),
                f"{prefix}LOG_JSON": "false",
            }
            if group:
                env[f"{prefix}CONSUMER_GROUP"] = s.consumer_group(group)
            return {**os.environ, **env}

        sandbox = s.sandbox_url
        return {
            "invoice-events": common(
                "INVOICE_EVENTS_", s.invoice_events_port, "invoice_events", "invoice-events"
            )
            | {
                "INVOICE_EVENTS_SYNC_LOG_URL": s.sync_log_url,
                "INVOICE_EVENTS_SYNC_LOG_API_KEY": s.dev_api_key,
            },
            "xero-connector": common(
                "XERO_CONNECTOR_", s.xero_connector_port, "xero_connector", "xero-connector"
            )
            | {
                "XERO_CONNECTOR_TOKEN_KEYS": self._token_key(),
                "XERO_CONNECTOR_XERO_CLIENT_ID": "sandbox",
                "XERO_CONNECTOR_XERO_CLIENT_SECRET": s.sandbox_client_secret.get_secret_value(),
                "XERO_CONNECTOR_REDIRECT_URI": f"{s.xero_connector_url}/v1/oauth/callback",
                "XERO_CONNECTOR_XERO_API_URL": sandbox,
                "XERO_CONNECTOR_XERO_IDENTITY_URL": sandbox,
                "XERO_CONNECTOR_XERO_LOGIN_URL": sandbox,
                "XERO_CONNECTOR_CONSOLE_ORIGINS": s.console_url,
            },
            "sync-log": common("SYNC_LOG_", s.sync_log_port, "sync_log", "sync-log")
            | {"SYNC_LOG_CONSOLE_URL": s.console_url},
        }

    def _spawn(self, name: str, module: str, env: dict[str, str]) -> None:
        process = Managed(name, [sys.executable, "-m", module], env, self.sink)
        self.processes.append(process)
        process.start()

    def _wait_ready(self, name: str, url: str) -> None:
        process = next(p for p in self.processes if p.name == name)
        deadline = time.monotonic() + self.settings.ready_timeout_seconds
        last = "no answer"
        while time.monotonic() < deadline:
            if (code := process.exit_code()) is not None:
                raise StackError(
                    f"{name} exited with code {code} while starting:\n" + "\n".join(process.tail)
                )
            try:
                response = httpx.get(url, timeout=5)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            time.sleep(0.25)
        raise StackError(
            f"{name} was not ready at {url} in {self.settings.ready_timeout_seconds:.0f}s: {last}"
        )

    # -- while running -------------------------------------------------------------------
    def dead(self) -> Managed | None:
        """The first process that has exited, if any."""
        return next((p for p in self.processes if p.exit_code() is not None), None)

    # -- stop ----------------------------------------------------------------------------
    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.exit_code() is None:
                self.sink("stack", f"stopping {process.name} (pid {process.pid})")
            process.stop()
        if self.infra_started:
            state = cli._load_state()
            for name in self.infra_started:
                if info := state.pop(name, None):
                    self.sink("stack", f"stopping {name} (pid {info['pid']})")
                    stop_pid(info["pid"])
            cli._save_state(state)


@contextmanager
def running_stack(settings: StackSettings, sink: LogSink) -> Iterator[Stack]:
    """The stack, ready; stopped on the way out, also when starting it failed half-way."""
    stack = Stack(settings, sink)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
