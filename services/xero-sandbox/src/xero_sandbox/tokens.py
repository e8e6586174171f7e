"""OAuth 2.0 state as Xero keeps it: authorization codes, grants with their connections, access
tokens and rotating refresh tokens.

Decisions (see README):
- Every authorization is its own grant (as if a different Xero user consented), with its own
  ``authEventId`` and connections, so orgs never see each other's tenants.
- Access tokens are opaque and live 30 minutes; a refresh does not cut short the old one.
- A refresh token rotates on use. The used one stays valid for a 30-minute grace that starts at
  its first use; each use inside the grace returns a new access token and a new refresh token.
  Unused, a refresh token expires 60 days after it was issued.
- Revoking a refresh token revokes every refresh token of its grant and removes the grant's
  connections; its access tokens then reach no tenant (403).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field

from .clock import Clock

ACCESS_TOKEN_SECONDS = 1800
REFRESH_TOKEN_SECONDS = 60 * 86400
REFRESH_GRACE_SECONDS = 1800
CODE_SECONDS = 300


class OAuthError(Exception):
    """An OAuth error answered as ``{"error": <code>}``."""

    def __init__(self, code: str, description: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.description = description


@dataclass(slots=True)
class Connection:
    id: str
    tenant_id: str
    tenant_name: str
    auth_event_id: str
    created_at: float
    updated_at: float
    tenant_type: str = "ORGANISATION"


@dataclass(slots=True)
class Grant:
    auth_event_id: str
    client_id: str
    scope: str
    connections: dict[str, Connection] = field(default_factory=dict)  # by connection id

    def connects(self, tenant_id: str) -> bool:
        return any(c.tenant_id == tenant_id for c in self.connections.values())


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    tenant_id: str
    tenant_name: str
    challenge: str | None
    method: str
    expires_at: float


@dataclass(slots=True)
class _Access:
    grant: Grant
    expires_at: float


@dataclass(slots=True)
class _Refresh:
    grant: Grant
    expires_at: float
    first_used_at: float | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_in: int
    scope: str

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "scope": self.scope,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


@dataclass(frozen=True, slots=True)
class AccessCheck:
    """What an access token is worth: a grant, or the moment it expired, or nothing."""

    grant: Grant | None
    expired_at: float | None = None


def verify_pkce(challenge: str, method: str, verifier: str | None) -> bool:
    if not verifier:
        return False
    if method == "plain":
        return secrets.compare_digest(challenge, verifier)
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return secrets.compare_digest(challenge, computed)


class TokenStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._grants: list[Grant] = []

    def issue_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str,
        tenant_id: str,
        tenant_name: str,
        challenge: str | None,
        method: str,
    ) -> str:
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Code(
            client_id,
            redirect_uri,
            scope,
            tenant_id,
            tenant_name,
            challenge,
            method,
            self._clock() + CODE_SECONDS,
        )
        return code

    def exchange_code(
        self, code: str, client_id: str, redirect_uri: str | None, verifier: str | None
    ) -> TokenSet:
        # Single use: the code is gone whatever the outcome, as with Xero.
        pending = self._codes.pop(code, None)
        now = self._clock()
        if pending is None or pending.expires_at <= now or pending.client_id != client_id:
            raise OAuthError("invalid_grant")
        if redirect_uri != pending.redirect_uri:
            raise OAuthError("invalid_grant")
        if pending.challenge is not None and not verify_pkce(
            pending.challenge, pending.method, verifier
        ):
            raise OAuthError("invalid_grant")
        grant = Grant(str(uuid.uuid4()), client_id, pending.scope)
        connection = Connection(
            str(uuid.uuid4()), pending.tenant_id, pending.tenant_name, grant.auth_event_id, now, now
        )
        grant.connections[connection.id] = connection
        self._grants.append(grant)
        return self._issue(grant, now)

    def refresh(self, token: str, client_id: str) -> TokenSet:
        entry = self._refresh.get(token)
        now = self._clock()
        if entry is None or entry.revoked or entry.grant.client_id != client_id:
            raise OAuthError("invalid_grant")
        if entry.first_used_at is None:
            if entry.expires_at <= now:
                raise OAuthError("invalid_grant")
            entry.first_used_at = now
        elif now > entry.first_used_at + REFRESH_GRACE_SECONDS:
            raise OAuthError("invalid_grant")
        return self._issue(entry.grant, now)

    def revoke(self, token: str, client_id: str) -> bool:
        """Revoke a refresh token's grant; unknown tokens are ignored (RFC 7009)."""
        entry = self._refresh.get(token)
        if entry is None or entry.grant.client_id != client_id:
            return False
        self._revoke_grant(entry.grant)
        entry.grant.connections.clear()
        return True

    def check_access(self, token: str) -> AccessCheck:
        entry = self._access.get(token)
        if entry is None:
            return AccessCheck(None)
        if entry.expires_at <= self._clock():
            return AccessCheck(None, entry.expires_at)
        return AccessCheck(entry.grant)

    def expire_access_tokens(self, tenant_id: str | None = None) -> int:
        now = self._clock()
        count = 0
        for entry in self._access.values():
            if entry.expires_at > now and (tenant_id is None or entry.grant.connects(tenant_id)):
                entry.expires_at = now
                count += 1
        return count

    def revoke_refresh_tokens(self, tenant_id: str | None = None) -> int:
        count = 0
        for entry in self._refresh.values():
            if not entry.revoked and (tenant_id is None or entry.grant.connects(tenant_id)):
                entry.revoked = True
                count += 1
        return count

    def _revoke_grant(self, grant: Grant) -> None:
        for entry in self._refresh.values():
            if entry.grant is grant:
                entry.revoked = True

    def _issue(self, grant: Grant, now: float) -> TokenSet:
        access = secrets.token_urlsafe(48)
        self._access[access] = _Access(grant, now + ACCESS_TOKEN_SECONDS)
        refresh: str | None = None
        if "offline_access" in grant.scope.split():
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = _Refresh(grant, now + REFRESH_TOKEN_SECONDS)
        return TokenSet(access, refresh, ACCESS_TOKEN_SECONDS, grant.scope)
