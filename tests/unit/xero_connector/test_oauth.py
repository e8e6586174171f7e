"""PKCE, state and the authorize URL; which tenant an authorization connected."""

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from xero_connector import oauth
from xero_connector.xero_models import XeroConnection


def test_pkce_challenge_is_s256_base64url_without_padding() -> None:
    # Computed independently: printf %s "$v" | openssl dgst -sha256 -binary | base64
    #   | tr "+/" "-_" | tr -d "="
    verifier = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oauth.pkce_challenge(verifier) == "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc"


def test_verifiers_and_states_are_long_unique_and_url_safe() -> None:
    verifiers = {oauth.new_verifier() for _ in range(100)}
    states = {oauth.new_state() for _ in range(100)}
    assert len(verifiers) == len(states) == 100
    for value in verifiers:
        assert 43 <= len(value) <= 128
        assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert min(len(s) for s in states) >= 40


def test_authorize_url_has_every_parameter_xero_wants() -> None:
    url = oauth.authorize_url(
        "https://login.xero.com/",
        client_id="abc",
        redirect_uri="http://127.0.0.1:8002/v1/oauth/callback",
        scopes=["offline_access", "accounting.invoices"],
        state="st",
        code_challenge="ch",
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://login.xero.com/identity/connect/authorize"
    )
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "response_type": "code",
        "client_id": "abc",
        "redirect_uri": "http://127.0.0.1:8002/v1/oauth/callback",
        "scope": "offline_access accounting.invoices",
        "state": "st",
        "code_challenge": "ch",
        "code_challenge_method": "S256",
    }


def _jwt(claims: dict[str, str]) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.sig"


def test_auth_event_id_comes_from_a_jwt_and_is_none_for_opaque_tokens() -> None:
    assert oauth.auth_event_id(_jwt({"authentication_event_id": "ev-9"})) == "ev-9"
    assert oauth.auth_event_id(_jwt({"sub": "x"})) is None
    assert oauth.auth_event_id("opaque-token") is None
    assert oauth.auth_event_id("a.%%%.c") is None


def _conn(cid: str, event: str, day: int, kind: str = "ORGANISATION") -> XeroConnection:
    at = datetime(2026, 11, day, tzinfo=UTC)
    return XeroConnection(cid, f"t-{cid}", kind, f"Org {cid}", event, at, at)


def test_pick_tenant_prefers_this_authorization_then_organisations_then_newest() -> None:
    conns = [_conn("a", "ev1", 1), _conn("b", "ev2", 3), _conn("c", "ev1", 2)]
    assert oauth.pick_tenant(conns, "ev1") == conns[2]
    assert oauth.pick_tenant(conns) == conns[1]
    assert oauth.pick_tenant(conns, "unknown-event") == conns[1]
    practice = [_conn("p", "ev1", 9, "PRACTICE"), _conn("o", "ev1", 1)]
    assert oauth.pick_tenant(practice, "ev1") == practice[1]
    assert oauth.pick_tenant([]) is None


CONSOLE = ["http://127.0.0.1:8005", "https://console.example"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8005/orgs/org_a/xero", True),
        ("http://127.0.0.1:8005", True),
        ("https://console.example/settings?tab=xero#top", True),
        ("HTTPS://Console.Example/x", True),  # scheme and host are case-insensitive
        ("http://console.example/x", False),  # another scheme is another origin
        ("http://127.0.0.1:8006/x", False),  # another port
        ("http://127.0.0.1/x", False),
        ("https://console.example.evil.example/x", False),  # a prefix of the host is not it
        ("https://console.example@evil.example/x", False),  # userinfo hides the real host
        ("https://evil.example/https://console.example/x", False),
        ("http://127.0.0.1:8005\\@evil.example/", False),  # browsers read \ as /
        ("//console.example/x", False),  # scheme-relative
        ("/orgs/org_a", False),  # relative
        ("javascript://console.example/%0aalert(1)", False),
        ("https://console.example/x\n.evil", False),
        ("", False),
    ],
)
def test_only_an_url_on_a_console_origin_may_be_returned_to(url: str, allowed: bool) -> None:
    assert oauth.may_return_to(url, CONSOLE) is allowed


def test_the_return_url_carries_the_outcome_and_keeps_the_consoles_own_query() -> None:
    ok = oauth.return_url("http://127.0.0.1:8005/orgs/org_a/xero?tab=1#x", "org_a")
    parts = urlsplit(ok)
    assert parts.path == "/orgs/org_a/xero" and parts.fragment == "x"
    assert parse_qs(parts.query) == {"tab": ["1"], "xero": ["connected"], "org_id": ["org_a"]}

    failed = oauth.return_url("http://127.0.0.1:8005/x", "org a&b", "authorization_failed")
    assert parse_qs(urlsplit(failed).query) == {
        "xero": ["error"],
        "org_id": ["org a&b"],
        "reason": ["authorization_failed"],
    }

    # A return_to cannot carry an outcome of its own ahead of the real one.
    forged = oauth.return_url("http://127.0.0.1:8005/x?xero=connected&reason=no", "org_a", "e")
    assert parse_qs(urlsplit(forged).query) == {
        "xero": ["error"],
        "org_id": ["org_a"],
        "reason": ["e"],
    }
