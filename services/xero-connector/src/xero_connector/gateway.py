"""The pipeline's way to Xero: every call through the rate limiter, 429s waited out, 5xx and
timeouts retried with jittered backoff where retrying is safe.

    gateway = XeroGateway(api_client, limiter, retries=4)
    answer = await gateway.call(org, tenant, "GET", "/Invoices", params={...})
    answer = await gateway.call(org, tenant, "POST", "/Invoices", json=..., safe=False)

``safe=False`` (a write): only a call that never left (``XeroTransportError(sent=False)``)
is sent again here; an unknown outcome (timeout after sending, 5xx) is raised, because the
caller must first find out what Xero did (look the invoices up by number).
"""

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

import structlog
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from xero_connector.adapters.xero_client import BeforeSend, XeroResponse
from xero_connector.limiter import DailyLimitSpent, RateLimiter, Sleep
from xero_connector.metrics import RATE_LIMITED_RESPONSES
from xero_connector.xero_errors import (
    XeroError,
    XeroRateLimited,
    XeroTransportError,
    XeroUnavailable,
)

log = structlog.get_logger(__name__)


class ApiClient(Protocol):
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
    ) -> XeroResponse: ...


class XeroGateway:
    def __init__(
        self,
        client: ApiClient,
        limiter: RateLimiter,
        *,
        retries: int = 4,
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        rate_limit_retries: int = 20,
        sleep: Sleep | None = None,
    ) -> None:
        self._client = client
        self.limiter = limiter
        self._retries = retries
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._rate_limit_retries = rate_limit_retries
        self._sleep: Sleep = sleep or asyncio.sleep

    async def call(
        self,
        org_id: str,
        tenant_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        safe: bool = True,
        before_send: BeforeSend | None = None,
    ) -> XeroResponse:
        def retryable(error: BaseException) -> bool:
            if isinstance(error, XeroTransportError) and not error.sent:
                return True
            return safe and isinstance(error, XeroUnavailable)

        retrying = AsyncRetrying(
            retry=retry_if_exception(retryable),
            wait=wait_exponential_jitter(multiplier=self._backoff, max=self._max_backoff),
            stop=stop_after_attempt(self._retries + 1),
            reraise=True,
            sleep=self._sleep,
        )
        async for attempt in retrying:
            with attempt:
                return await self._paced(
                    org_id, tenant_id, method, path, params, json, headers, before_send
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _paced(
        self,
        org_id: str,
        tenant_id: str,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        before_send: BeforeSend | None,
    ) -> XeroResponse:
        """One call, sent again after a 429's Retry-After (a refused call did nothing);
        ``before_send`` runs before every sending, inside the limiter's slot."""
        refused = 0
        while True:
            try:
                async with self.limiter.slot(tenant_id):
                    answer = await self._client.request(
                        org_id,
                        method,
                        path,
                        params=params,
                        json=json,
                        headers=headers,
                        tenant_id=tenant_id,
                        before_send=before_send,
                    )
            except XeroRateLimited as error:
                self.limiter.observe(tenant_id, error.limits)
                RATE_LIMITED_RESPONSES.labels(error.problem).inc()
                if error.problem == "day":
                    self.limiter.day_spent(tenant_id, error.retry_after)
                    raise DailyLimitSpent(tenant_id, error.retry_after) from None
                refused += 1
                log.warning(
                    "xero.rate_limited", problem=error.problem, retry_after=error.retry_after
                )
                if refused > self._rate_limit_retries:
                    raise XeroUnavailable(f"Xero kept answering 429 ({error.problem})") from None
                await self._sleep(error.retry_after)
                continue
            except XeroError as error:
                self.limiter.observe(tenant_id, error.limits)
                raise
            self.limiter.observe(tenant_id, answer.limits)
            return answer
