from __future__ import annotations

from xero_sandbox.idempotency import IdempotencyStore, fingerprint

from .conftest import FakeClock


def test_entries_expire_after_the_ttl(clock: FakeClock) -> None:
    store = IdempotencyStore(360, clock)
    store.remember("t", "k", "fp", 200, {"x": 1})
    clock.advance(359)
    stored = store.lookup("t", "k")
    assert stored is not None and stored.body == {"x": 1}
    clock.advance(1)
    assert store.lookup("t", "k") is None
    assert len(store) == 0


def test_keys_are_scoped_to_the_tenant(clock: FakeClock) -> None:
    store = IdempotencyStore(360, clock)
    store.remember("a", "k", "fp", 200, {})
    assert store.lookup("b", "k") is None


def test_fingerprint_tells_requests_apart() -> None:
    base = fingerprint("PUT", "/api.xro/2.0/Invoices", "", b'{"a":1}')
    assert base == fingerprint("put", "/api.xro/2.0/invoices", "", b'{"a":1}')
    assert base != fingerprint("POST", "/api.xro/2.0/Invoices", "", b'{"a":1}')
    assert base != fingerprint("PUT", "/api.xro/2.0/Invoices", "summarizeErrors=false", b'{"a":1}')
    assert base != fingerprint("PUT", "/api.xro/2.0/Invoices", "", b'{"a":2}')
