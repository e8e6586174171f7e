"""``Idempotency-Key``: a replay within the TTL gets the first response again, the same key
with a different request is refused. Keys are scoped to a tenant."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .clock import Clock

MAX_KEY_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Stored:
    fingerprint: str
    status: int
    body: Any
    expires_at: float


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper(), path.casefold(), "&".join(sorted(query.split("&")))):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyStore:
    def __init__(self, ttl_seconds: float, clock: Clock) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        # Insertion order is expiry order (one TTL for all), so purging pops from the front.
        self._entries: OrderedDict[tuple[str, str], Stored] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, tenant_id: str, key: str) -> Stored | None:
        self._purge()
        return self._entries.get((tenant_id, key))

    def remember(self, tenant_id: str, key: str, fingerprint: str, status: int, body: Any) -> None:
        self._purge()
        entry = Stored(fingerprint, status, body, self._clock() + self._ttl)
        self._entries[(tenant_id, key)] = entry
        self._entries.move_to_end((tenant_id, key))

    def clear(self) -> None:
        self._entries.clear()

    def _purge(self) -> None:
        now = self._clock()
        while self._entries:
            first_key = next(iter(self._entries))
            if self._entries[first_key].expires_at > now:
                break
            del self._entries[first_key]
