"""Time as a dependency: use cases take a ``Clock`` so tests can pass a fixed or stepping one.

def __init__(self, ..., clock: Clock = utc_now) -> None: ...
"""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (UTC)."""


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)
