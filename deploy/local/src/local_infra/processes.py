"""Child processes with their output streamed under a per-process prefix.

    proc = Managed("sync-log", [sys.executable, "-m", "sync_log.main"], env, sink)
    proc.start()
    ...
    proc.stop()

Each child gets its own session, so a Ctrl-C in the terminal reaches only the launcher, which
then stops the children in order; ``stop`` signals the child's whole process group.
"""

import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

LogSink = Callable[[str, str], None]  # (process name, line)


@dataclass
class Managed:
    name: str
    command: list[str]
    env: dict[str, str]
    sink: LogSink
    proc: subprocess.Popen[bytes] | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    _pump: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self._pump = threading.Thread(
            target=self._read, args=(self.proc.stdout,), name=f"log-{self.name}", daemon=True
        )
        self._pump.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            self.tail.append(line)
            self.sink(self.name, line)

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self.proc.poll() if self.proc else None

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout_s``."""
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        if self._pump is not None:
            self._pump.join(timeout=2)
