"""``local-infra``: provision, start, stop and show the local Kafka and MongoDB-wire servers.

local-infra up          # idempotent; prints the endpoints
local-infra down        # stops what `up` started, by pid
local-infra status
local-infra provision   # fetch/build only
local-infra run         # the whole stack in the foreground (`make run`, see launcher.py)
local-infra demo        # every seed case against the running stack (`make demo`, demo.py)
"""

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from local_infra.paths import state_dir
from local_infra.provision import ProvisionError, ferretdb_binary, kafka_lib_dir, real_mongod
from local_infra.servers import (
    KafkaServer,
    MongoServer,
    ServerError,
    pid_alive,
    port_open,
    stop_pid,
)

console = Console(stderr=True)


def _state_file() -> Path:
    return state_dir() / "state.json"


def _load_state() -> dict[str, dict[str, Any]]:
    path = _state_file()
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_state(state: dict[str, dict[str, Any]]) -> None:
    _state_file().parent.mkdir(parents=True, exist_ok=True)
    _state_file().write_text(json.dumps(state, indent=2))


def _step(message: str, action: Callable[[], object]) -> float:
    started = time.monotonic()
    with console.status(message):
        action()
    return time.monotonic() - started


def provision() -> None:
    took = _step(
        "Fetching Kafka jars from Maven Central (cached after the first run)…", kafka_lib_dir
    )
    console.print(f"[green]✓[/] Kafka jars ready ({took:.1f}s)")
    mongod = real_mongod()
    if mongod is None:
        took = _step(
            "Building FerretDB from the Go module proxy (cached after the first run)…",
            ferretdb_binary,
        )
        console.print(f"[green]✓[/] FerretDB ready ({took:.1f}s)")
    else:
        console.print(f"[green]✓[/] using {mongod}")


def up(kafka_port: int, mongo_port: int) -> None:
    started = time.monotonic()
    provision()
    state = _load_state()
    servers: dict[str, KafkaServer | MongoServer] = {
        "kafka": KafkaServer(port=kafka_port, data_dir=state_dir() / "kafka"),
        "mongo": MongoServer(port=mongo_port, data_dir=state_dir() / "mongo"),
    }
    for name, server in servers.items():
        known = state.get(name)
        if known and pid_alive(known["pid"]) and known["port"] == server.port:
            console.print(f"[green]✓[/] {name} already running (pid {known['pid']})")
            continue
        if port_open(server.port):
            raise ServerError(
                f"{name}: port {server.port} is taken by a process local-infra did not start; "
                "stop it or choose another port"
            )
        server.start()
        took = _step(f"Starting {name} on 127.0.0.1:{server.port}…", server.wait_ready)
        state[name] = {"pid": server.pid, "port": server.port, "log": str(server.log_file)}
        _save_state(state)
        console.print(f"[green]✓[/] {name} up on 127.0.0.1:{server.port} ({took:.1f}s)")
    console.print(
        f"\nKafka:   127.0.0.1:{kafka_port}\nMongoDB: mongodb://127.0.0.1:{mongo_port}\n"
        f"(ready in {time.monotonic() - started:.1f}s; stop with: make infra-down)"
    )


def down() -> None:
    state = _load_state()
    for name, info in state.items():
        if pid_alive(info["pid"]):
            stop_pid(info["pid"])
            console.print(f"[green]✓[/] stopped {name} (pid {info['pid']})")
        else:
            console.print(f"{name} was not running")
    _state_file().unlink(missing_ok=True)


def status() -> int:
    state = _load_state()
    if not state:
        console.print("nothing started by local-infra")
        return 1
    healthy = True
    for name, info in state.items():
        alive = pid_alive(info["pid"]) and port_open(info["port"])
        healthy &= alive
        console.print(
            f"{name}: pid {info['pid']} port {info['port']} "
            f"{'[green]up[/]' if alive else '[red]down[/]'}  log {info['log']}"
        )
    return 0 if healthy else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local-infra", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "provision", "run", "demo"])
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--mongo-port", type=int, default=27017)
    args = parser.parse_args(argv)
    if args.command == "run":
        from local_infra.launcher import run

        return run()
    if args.command == "demo":
        from local_infra.demo import main as demo

        return demo()
    try:
        if args.command == "up":
            up(args.kafka_port, args.mongo_port)
        elif args.command == "down":
            down()
        elif args.command == "provision":
            provision()
        else:
            return status()
    except (ProvisionError, ServerError) as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
