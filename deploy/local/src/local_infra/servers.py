"""Start, probe and stop the two servers as plain processes.

    kafka = KafkaServer(port=free_port(), data_dir=tmp / "kafka")
    kafka.start()
    kafka.wait_ready()
    ...
    kafka.stop()

``start`` puts each server in its own session, so ``local-infra up`` can exit and leave them
running; ``stop`` signals the whole process group.
"""

import asyncio
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from local_infra.paths import KAFKA_RECIPE
from local_infra.provision import kafka_lib_dir, mongo_command


class ServerError(RuntimeError):
    """A server did not start or answer in time; the message ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_pid(pid: int, timeout_s: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it outstays ``timeout_s``."""
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:  # not our child: poll instead
                if not pid_alive(pid):
                    return
            time.sleep(0.1)


def _log_tail(path: Path, lines: int = 25) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class _Server:
    port: int
    data_dir: Path
    log_file: Path = field(init=False)
    pid: int | None = None
    name: str = "server"

    def __post_init__(self) -> None:
        self.log_file = self.data_dir.parent / f"{self.name}-{self.port}.log"

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Work before the first start (formatting storage)."""

    def start(self) -> int:
        if port_open(self.port):
            raise ServerError(f"{self.name}: port {self.port} is already in use")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare()
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                self._command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.data_dir,
            )
        self.pid = proc.pid
        return proc.pid

    async def _answers(self) -> bool:
        raise NotImplementedError

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid is not None and not pid_alive(self.pid):
                raise ServerError(f"{self.name} exited:\n{_log_tail(self.log_file)}")
            if port_open(self.port) and asyncio.run(self._answers()):
                return
            time.sleep(0.3)
        raise ServerError(
            f"{self.name} did not answer on {self.port} in {timeout_s:.0f}s:\n"
            f"{_log_tail(self.log_file)}"
        )

    def stop(self) -> None:
        if self.pid is not None:
            stop_pid(self.pid)
            self.pid = None


@dataclass
class KafkaServer(_Server):
    """A single-node KRaft broker (broker and controller in one JVM)."""

    controller_port: int = 0
    name: str = "kafka"
    heap: str = "768m"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.controller_port:
            self.controller_port = free_port()

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _properties(self) -> Path:
        path = self.data_dir / "server.properties"
        path.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.data_dir / 'logs'}",
                    "num.partitions=12",
                    # One node: every internal topic has one replica.
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=12",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    # Services create their topics with the partition count they are set to.
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )
        return path

    def _java(self, main: str, *args: str) -> list[str]:
        lib = kafka_lib_dir()
        return [
            "java",
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={KAFKA_RECIPE / 'log4j2.yaml'}",
            "-cp",
            f"{lib}/*",
            main,
            *args,
        ]

    def _prepare(self) -> None:
        props = self._properties()
        if (self.data_dir / "logs" / "meta.properties").is_file():
            return
        cluster_id = _kafka_cluster_id()
        result = subprocess.run(
            # "=" form: a random id may start with "-", which would read as an option
            self._java(
                "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props)
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"kafka storage format failed:\n{result.stdout}{result.stderr}")

    def _command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.data_dir / "server.properties"))

    async def _answers(self) -> bool:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            return bool(cluster.get("brokers"))
        except Exception:  # not up yet
            return False
        finally:
            await admin.close()


def _kafka_cluster_id() -> str:
    # A Kafka cluster id is 16 random bytes in URL-safe base64 without padding.
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass
class MongoServer(_Server):
    """``mongod`` when installed, else the FerretDB wrapper with SQLite storage."""

    name: str = "mongo"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        cmd = mongo_command()
        if Path(cmd[0]).name == "mongod":
            return [
                *cmd,
                "--bind_ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dbpath",
                str(self.data_dir),
                "--quiet",
            ]
        return [*cmd, "-listen-addr", f"127.0.0.1:{self.port}", "-sqlite-dir", f"{self.data_dir}/"]

    async def _answers(self) -> bool:
        from pymongo import AsyncMongoClient

        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            self.uri, serverSelectionTimeoutMS=1000
        )
        try:
            await client.admin.command("ping")
            return True
        except Exception:  # not up yet
            return False
        finally:
            await client.close()
