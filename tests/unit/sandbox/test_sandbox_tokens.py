from __future__ import annotations

import base64
import hashlib

import pytest

from xero_sandbox.tokens import OAuthError, TokenStore, verify_pkce

from .conftest import FakeClock

SCOPE = "offline_access accounting.invoices"


def _code(store: TokenStore, challenge: str | None = None, method: str = "S256") -> str:
    return store.issue_code(
        client_id="c",
        redirect_uri="http://127.0.0.1/cb",
        scope=SCOPE,
        tenant_id="tenant",
        tenant_name="Org",
        challenge=challenge,
        method=method,
    )


def _connect(store: TokenStore) -> tuple[str, str]:
    issued = store.exchange_code(_code(store), "c", "http://127.0.0.1/cb", None)
    assert issued.refresh_token is not None
    return issued.access_token, issued.refresh_token


def test_pkce_methods() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert verify_pkce(challenge.decode(), "S256", verifier)
    assert not verify_pkce(challenge.decode(), "S256", verifier + "x")
    assert verify_pkce("same", "plain", "same")
    assert not verify_pkce("same", "plain", None)


def test_code_expires_after_five_minutes(clock: FakeClock) -> None:
    store = TokenStore(clock)
    code = _code(store)
    clock.advance(300)
    with pytest.raises(OAuthError, match="invalid_grant"):
        store.exchange_code(code, "c", "http://127.0.0.1/cb", None)


def test_code_needs_the_same_redirect_uri(clock: FakeClock) -> None:
    store = TokenStore(clock)
    with pytest.raises(OAuthError):
        store.exchange_code(_code(store), "c", "http://127.0.0.1/other", None)


def test_access_token_lives_thirty_minutes(clock: FakeClock) -> None:
    store = TokenStore(clock)
    access, _ = _connect(store)
    clock.advance(1799)
    assert store.check_access(access).grant is not None
    clock.advance(1)
    checked = store.check_access(access)
    assert checked.grant is None
    assert checked.expired_at == clock.now
    assert store.check_access("unknown").expired_at is None


def test_refresh_rotation_and_grace(clock: FakeClock) -> None:
    store = TokenStore(clock)
    _, first = _connect(store)
    second = store.refresh(first, "c").refresh_token
    assert second not in (None, first)
    clock.advance(1799)
    assert store.refresh(first, "c").refresh_token not in (first, second)  # inside the grace
    clock.advance(2)
    with pytest.raises(OAuthError, match="invalid_grant"):
        store.refresh(first, "c")
    assert second is not None
    assert store.refresh(second, "c").access_token


def test_unused_refresh_token_expires_after_sixty_days(clock: FakeClock) -> None:
    store = TokenStore(clock)
    _, refresh = _connect(store)
    clock.advance(60 * 86400)
    with pytest.raises(OAuthError, match="invalid_grant"):
        store.refresh(refresh, "c")


def test_refresh_token_belongs_to_its_client(clock: FakeClock) -> None:
    store = TokenStore(clock)
    _, refresh = _connect(store)
    with pytest.raises(OAuthError):
        store.refresh(refresh, "someone-else")


def test_revoke_removes_connections_and_every_refresh_token(clock: FakeClock) -> None:
    store = TokenStore(clock)
    access, first = _connect(store)
    second = store.refresh(first, "c").refresh_token
    assert second is not None
    assert store.revoke(second, "c")
    grant = store.check_access(access).grant
    assert grant is not None and grant.connections == {}
    for token in (first, second):
        with pytest.raises(OAuthError):
            store.refresh(token, "c")


def test_one_shot_faults_hit_only_tokens_of_the_tenant(clock: FakeClock) -> None:
    store = TokenStore(clock)
    access, refresh = _connect(store)
    assert store.expire_access_tokens("other-tenant") == 0
    assert store.expire_access_tokens("tenant") == 1
    assert store.check_access(access).expired_at is not None
    assert store.revoke_refresh_tokens("tenant") == 1
    with pytest.raises(OAuthError):
        store.refresh(refresh, "c")
    fresh_access, _ = _connect(store)  # a reconnect works
    assert store.check_access(fresh_access).grant is not None


def test_no_refresh_token_without_offline_access(clock: FakeClock) -> None:
    store = TokenStore(clock)
    code = store.issue_code(
        client_id="c",
        redirect_uri="u",
        scope="accounting.invoices",
        tenant_id="t",
        tenant_name="n",
        challenge=None,
        method="",
    )
    assert store.exchange_code(code, "c", "u", None).refresh_token is None
