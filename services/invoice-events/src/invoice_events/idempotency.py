"""``Idempotency-Key``: a retried request gets the first answer and causes nothing new.

    requests = IdempotentRequests(store, ttl=timedelta(days=1), lease=timedelta(seconds=15))
    response, replayed = await requests.run(key_id, request_hash, handle)

Protocol: the key is *reserved* (inserted ``in_progress`` with the request's hash and a claim
token; the unique ``_id`` lets exactly one of two concurrent requests win), the request runs,
and its answer is stored (``done``). A repeat with the same hash replays the stored answer; a
repeat with another body is refused (422); a repeat while the first still runs is refused
(409). If the request fails the reservation is released so the client's retry runs it again;
if the process dies mid-way the reservation is taken over once its lease has passed (the
request's own effects are idempotent: see service.py). Keys expire after ``ttl``; an expired
key counts as unused and a periodic purge deletes them (no TTL index on FerretDB v1).
"""

import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta

from invoice_events.decisions import KeyAction, KeyRecord, KeyState, StoredResponse, decide_key
from invoice_events.ports import IdempotencyStore
from invoice_events.service import Contended
from service_kit.clock import Clock, utc_now
from service_kit.errors import RetryLater

_MAX_RACES = 5


class KeyReused(Exception):
    """The key was first used with a different request body."""


class KeyInProgress(Exception):
    """The first request with this key is still being handled."""


class IdempotentRequests:
    def __init__(
        self,
        store: IdempotencyStore,
        *,
        ttl: timedelta,
        lease: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._lease = lease
        self._clock = clock

    async def run(
        self,
        key_id: str,
        request_hash: str,
        handle: Callable[[], Awaitable[StoredResponse]],
    ) -> tuple[StoredResponse, bool]:
        """The response, and whether it is a replay of a stored one."""
        for _ in range(_MAX_RACES):
            stored = await self._store.get(key_id)
            now = self._clock()
            action = decide_key(stored, request_hash, now=now, ttl=self._ttl, lease=self._lease)
            if action is KeyAction.REPLAY:
                assert stored is not None and stored.response is not None
                return stored.response, True
            if action is KeyAction.MISMATCH:
                raise KeyReused(key_id)
            if action is KeyAction.IN_PROGRESS:
                raise KeyInProgress(key_id)
            mine = KeyRecord(key_id, request_hash, KeyState.IN_PROGRESS, now, uuid.uuid4().hex)
            if stored is None:
                reserved = await self._store.insert(mine)
            else:  # REPLACE or TAKE_OVER
                reserved = await self._store.replace_if(stored.claim, mine)
            if reserved:
                return await self._run_reserved(mine, handle), False
        raise Contended("the idempotency key kept changing; retry")

    async def _run_reserved(
        self, mine: KeyRecord, handle: Callable[[], Awaitable[StoredResponse]]
    ) -> StoredResponse:
        try:
            response = await handle()
        except BaseException:
            with suppress(RetryLater):  # else the reservation's lease runs out on its own
                await self._store.release(mine.key_id, mine.claim)
            raise
        if response.status_code >= 500:
            await self._store.release(mine.key_id, mine.claim)
        else:
            await self._store.complete(mine.key_id, mine.claim, response)
        return response

    async def purge(self) -> int:
        return await self._store.purge(self._clock() - self._ttl)
