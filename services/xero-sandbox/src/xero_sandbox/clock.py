"""Time as a port: the domain asks a ``Clock`` instead of reading the system time."""

from __future__ import annotations

import time
from collections.abc import Callable

# Seconds since the epoch, as a float. Tests pass a fake they can advance.
Clock = Callable[[], float]


def system_clock() -> float:
    return time.time()
