"""Xero over HTTP: the identity server (tokens, revocation, /connections) and the Accounting
API, on one long-lived ``httpx.AsyncClient`` per process with explicit timeouts.

    http = build_http_client(settings)
    identity = XeroIdentityClient(http, settings)
    api = XeroApiClient(http, token_manager, api_url=settings.xero_api_url)
    answer = await api.request("org_acme", "GET", "/Contacts", params={"page": 1})
    # bearer + xero-tenant-id from the token manager; the typed operations over it are
    # adapters/xero_accounting.py
    answer.limits.minute_remaining               # Xero's X-*-Remaining headers

Every failure is one of the ``xero_connector.xero_errors`` tree. An access token that Xero
reports expired (401 ``TokenExpired``) is refreshed and the request sent once more, by
:class:`XeroTokenAuth` (an ``httpx.Auth`` flow). No token, code or secret is ever logged.
"""

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import simplejson

from xero_connector.config import Settings
from xero_connector.metrics import XERO_CALLS, XERO_LATENCY
from xero_connector.ports import AccessTokens, XeroAccess
from xero_connector.writers import RENEW_EVERY
from xero_connector.xero_errors import (
    TenantChanged,
    XeroTransportError,
    XeroUnavailable,
    api_error,
    oauth_error,
)
from xero_connector.xero_models import (
    RateLimits,
    TokenGrant,
    XeroConnection,
    parse_connections,
    parse_token_grant,
)

ACCOUNTING_PREFIX = "/api.xro/2.0"
# Run just before a request goes (alongside the token read), e.g. the writer check: raising
# stops the request unsent.
BeforeSend = Callable[[], Coroutine[Any, Any, None]]
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# A token read longer than this and the writer check runs again: the lease a write was
# checked against must outlive the call, counted from the check (writers.RENEW_EVERY is the
# slack the settings allow for between the two).
CHECK_AGAIN_AFTER_S = RENEW_EVERY.total_seconds()


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """The process's one client to Xero (connection pooling, explicit timeouts)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=settings.http_connect_timeout_seconds,
            read=settings.http_read_timeout_seconds,
            write=settings.http_write_timeout_seconds,
            pool=settings.http_pool_timeout_seconds,
        ),
        limits=httpx.Limits(max_connections=settings.http_max_connections),
        headers={"Accept": "application/json", "User-Agent": "xero-connector"},
        follow_redirects=False,
    )


async def _send(
    http: httpx.AsyncClient, endpoint: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    started = time.perf_counter()
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TransportError as error:
        XERO_CALLS.labels(endpoint, "transport_error").inc()
        sent = not isinstance(error, _NOT_SENT)
        # The exception text never holds a token (httpx does not put bodies or headers in it).
        raise XeroTransportError(f"{type(error).__name__} calling {endpoint}", sent=sent) from None
    XERO_CALLS.labels(endpoint, str(response.status_code)).inc()
    XERO_LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


def _json_body(response: httpx.Response, endpoint: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise XeroUnavailable(
            f"{endpoint} answered {response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from None


class XeroIdentityClient:
    """``/connect/token``, ``/connect/revocation`` (identity server) and ``/connections``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        identity_url: str,
        api_url: str,
        client_id: str,
        client_secret: str,
    ) -> None:
        self._http = http
        self._identity = identity_url.rstrip("/")
        self._api = api_url.rstrip("/")
        self._basic = httpx.BasicAuth(client_id, client_secret)

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, settings: Settings) -> "XeroIdentityClient":
        return cls(
            http,
            identity_url=settings.xero_identity_url,
            api_url=settings.xero_api_url,
            client_id=settings.xero_client_id,
            client_secret=settings.xero_client_secret.get_secret_value(),
        )

    async def _token(self, form: dict[str, str]) -> TokenGrant:
        response = await _send(
            self._http,
            "POST /connect/token",
            "POST",
            f"{self._identity}/connect/token",
            data=form,
            auth=self._basic,
        )
        if response.status_code != 200:
            raise oauth_error(response.status_code, response.content)
        body = _json_body(response, "POST /connect/token")
        if not isinstance(body, dict) or not body.get("access_token"):
            raise XeroUnavailable("the token endpoint answered without an access token")
        return parse_token_grant(body)

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> TokenGrant:
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )

    async def refresh(self, refresh_token: str) -> TokenGrant:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def revoke(self, refresh_token: str) -> None:
        response = await _send(
            self._http,
            "POST /connect/revocation",
            "POST",
            f"{self._identity}/connect/revocation",
            data={"token": refresh_token},
            auth=self._basic,
        )
        if response.status_code != 200:
            raise oauth_error(response.status_code, response.content)

    async def connections(self, access_token: str) -> list[XeroConnection]:
        response = await _send(
            self._http,
            "GET /connections",
            "GET",
            f"{self._api}/connections",
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if response.status_code != 200:
            raise api_error(response.status_code, response.headers, response.content)
        return parse_connections(_json_body(response, "GET /connections"))


class XeroTokenAuth(httpx.Auth):
    """Bearer token and ``xero-tenant-id`` from the token manager; on a 401 ``TokenExpired``
    the manager refreshes (once per connection, whoever asks) and the request goes again."""

    def __init__(
        self,
        tokens: AccessTokens,
        org_id: str,
        tenant_id: str | None = None,
        before_send: BeforeSend | None = None,
    ) -> None:
        self._tokens = tokens
        self._org_id = org_id
        self._tenant_id = tenant_id
        self._before_send = before_send

    def _sign(self, request: httpx.Request, access: XeroAccess) -> None:
        if self._tenant_id is not None and access.tenant_id != self._tenant_id:
            # Reconnected to another organisation since the work began: what was planned for
            # the old tenant (its InvoiceIDs, ContactIDs) must not reach the new one.
            raise TenantChanged(f"the connection of {self._org_id} now reaches another tenant")
        request.headers["Authorization"] = f"Bearer {access.access_token}"
        request.headers["xero-tenant-id"] = access.tenant_id

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        access = await self._checked_access()
        self._sign(request, access)
        response = yield request
        if response.status_code == 401 and _token_expired(await response.aread()):
            access = await self._checked_access(rejected=access.access_token)
            self._sign(request, access)
            yield request

    async def _checked_access(self, rejected: str | None = None) -> XeroAccess:
        """The token, read while ``before_send`` runs (the writer check: two reads of the
        store side by side, and the check again when the read took long); a refusal of either
        and nothing is sent. When both fail, the check's error is raised, as if it had run
        first: a fenced instance sends its batch back rather than failing invoices it no
        longer writes."""
        read = self._tokens.access(self._org_id, rejected=rejected)
        if self._before_send is None:
            return await read
        started = time.perf_counter()
        check = asyncio.ensure_future(self._before_send())
        try:
            access = await read
        except asyncio.CancelledError:
            check.cancel()
            await asyncio.gather(check, return_exceptions=True)
            raise
        except Exception:
            (refused,) = await asyncio.gather(check, return_exceptions=True)
            if isinstance(refused, Exception):
                raise refused  # noqa: B904 (the token's error stays as its context)
            raise
        await check
        if time.perf_counter() - started > CHECK_AGAIN_AFTER_S:
            # The token read waited (another instance refreshing the connection): the check
            # beside it may be older than a successor's takeover by now.
            await self._before_send()
        return access

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("XeroTokenAuth works with httpx.AsyncClient only")


def _token_expired(content: bytes) -> bool:
    try:
        body = json.loads(content)
    except ValueError:
        return False
    return isinstance(body, dict) and str(body.get("Detail", "")).startswith("TokenExpired")


@dataclass(frozen=True, slots=True)
class XeroResponse:
    status: int
    body: Any
    limits: RateLimits
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ApiCall:
    """What an observer (a rate limiter, metrics) hears about every Accounting call."""

    org_id: str
    tenant_id: str | None
    endpoint: str
    status: int
    limits: RateLimits
    seconds: float


CallObserver = Callable[[ApiCall], None]


class XeroApiClient:
    """The Accounting API of an organisation, through its connection."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: AccessTokens,
        *,
        api_url: str,
        observer: CallObserver | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._base = api_url.rstrip("/") + ACCOUNTING_PREFIX
        self._observer = observer

    async def request(
        self,
        org_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        tenant_id: str | None = None,
        before_send: BeforeSend | None = None,
    ) -> XeroResponse:
        """One Accounting call; raises a ``XeroError`` unless Xero answered 2xx. With
        ``tenant_id``, refuses (TenantChanged, nothing sent) when the connection reaches
        another tenant; ``before_send`` runs alongside the token read and, if it raises,
        nothing is sent. Bodies are written with exact decimals: a ``Decimal`` is a JSON
        number with its own digits, never a float's."""
        endpoint = f"{method} {path.split('?')[0]}"
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        if json is not None:
            extra["content"] = simplejson.dumps(json, use_decimal=True).encode()
            headers = {**(headers or {}), "Content-Type": "application/json"}
        response = await _send(
            self._http,
            endpoint,
            method,
            f"{self._base}{path}",
            params=params,
            headers=headers,
            auth=XeroTokenAuth(self._tokens, org_id, tenant_id, before_send),
            **extra,
        )
        limits = RateLimits.from_headers(response.headers)
        if self._observer is not None:
            tenant = response.request.headers.get("xero-tenant-id")
            seconds = time.perf_counter() - started
            self._observer(ApiCall(org_id, tenant, endpoint, response.status_code, limits, seconds))
        if not 200 <= response.status_code < 300:
            raise api_error(response.status_code, response.headers, response.content)
        body = _json_body(response, endpoint) if response.content else None
        return XeroResponse(response.status_code, body, limits, response.headers)
