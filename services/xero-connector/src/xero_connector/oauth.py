"""The pure parts of Xero's OAuth 2.0 code flow: PKCE, state, the authorize URL, and which
tenant an authorization connected."""

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from xero_connector.xero_models import XeroConnection

AUTHORIZE_PATH = "/identity/connect/authorize"


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_verifier() -> str:
    """64 url-safe characters (RFC 7636 allows 43 to 128)."""
    return secrets.token_urlsafe(48)


def new_state() -> str:
    return secrets.token_urlsafe(32)


def authorize_url(
    login_url: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    state: str,
    code_challenge: str,
) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{login_url.rstrip('/')}{AUTHORIZE_PATH}?{query}"


def auth_event_id(access_token: str) -> str | None:
    """The ``authentication_event_id`` claim of Xero's JWT access tokens, unverified (we only
    use it to pick among our own connections); None for opaque tokens."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        return None
    value = claims.get("authentication_event_id") if isinstance(claims, dict) else None
    return str(value) if value else None


_EPOCH = datetime.min.replace(tzinfo=UTC)


def pick_tenant(
    connections: Sequence[XeroConnection], event_id: str | None = None
) -> XeroConnection | None:
    """The tenant this authorization connected: among the connections of the authorization
    event (when known, else all), organisations before practices, the newest first."""
    candidates = [c for c in connections if event_id is None or c.auth_event_id == event_id]
    if not candidates:
        candidates = list(connections)
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda c: (
            c.tenant_type == "ORGANISATION",
            c.updated_at or c.created_at or _EPOCH,
            c.created_at or _EPOCH,
        ),
    )


# -- The return to the operator console after the callback -----------------------------------


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower-cased; None otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def may_return_to(url: str, origins: Iterable[str]) -> bool:
    """Whether the callback may send the browser to ``url``: an absolute http(s) URL whose
    origin is exactly one of the console's. The whole authority is compared, so neither
    ``http://console.example@evil.example`` nor ``http://console.example.evil.example``
    passes for ``http://console.example``: no open redirect."""
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in url):
        return False
    wanted = origin(url)
    return wanted is not None and wanted in {origin(o) for o in origins}


_OURS = ("xero", "org_id", "reason")


def return_url(return_to: str, org_id: str, error_code: str | None = None) -> str:
    """``return_to`` with the outcome in its query: ``xero=connected&org_id=...``, or
    ``xero=error&org_id=...&reason=<error code>``. Its own query is kept (less any of these
    three names, so the outcome cannot be forged ahead of ours); the fragment too."""
    parts = urlsplit(return_to)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _OURS]
    outcome = [("xero", "connected" if error_code is None else "error"), ("org_id", org_id)]
    if error_code is not None:
        outcome.append(("reason", error_code))
    return urlunsplit(parts._replace(query=urlencode(kept + outcome)))
