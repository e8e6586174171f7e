"""Serve an ASGI app by uvicorn on a free loopback port, the one way every test does it.

    async with serving(create_app(settings)) as url: ...      # this event loop, lifespan on
    with serving_in_thread(create_app(sandbox)) as url: ...   # a thread of its own, no lifespan

uvicorn offers no event to wait on, so both wait for ``server.started`` with ``eventually``;
a server that stopped before it started (its lifespan failed) is named in the failure.
"""

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from local_infra import free_port
from tests.support.eventually import eventually, eventually_sync

_POLL_S = 0.02


@dataclass
class Served:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def start(app: Any, *, port: int | None = None, timeout_s: float = 60) -> Served:
    """Start ``app`` with its lifespan in this event loop; returns once it accepts requests."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        assert not task.done(), "the server stopped while starting"
        return bool(server.started)

    await eventually(started, what="the server to start", timeout=timeout_s, interval=_POLL_S)
    return Served(f"http://127.0.0.1:{port}", server, task)


@asynccontextmanager
async def serving(app: Any, *, port: int | None = None) -> AsyncIterator[str]:
    """:func:`start`, yield the URL, stop."""
    served = await start(app, port=port)
    try:
        yield served.url
    finally:
        await served.stop()


@contextmanager
def serving_in_thread(app: Any, *, timeout_s: float = 10) -> Iterator[str]:
    """Serve ``app`` without its lifespan from a daemon thread (its own event loop), for
    session fixtures and synchronous callers; yields the URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        eventually_sync(
            lambda: server.started, what="the server to start", timeout=timeout_s, interval=_POLL_S
        )
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
