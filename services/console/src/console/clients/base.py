"""What every service client shares: one ``httpx.AsyncClient`` per service with the console's
key, and the errors a page can show.

    try:
        connection = await connector.connection("org_acme")
    except ServiceUnavailable as down:      # down.service == "xero-connector"
        ...                                 # the page says which service, the rest still works
    except ServiceError as refused:         # 4xx: refused.status, refused.code, refused.message
        ...
"""

from typing import Any, TypeVar

import httpx
import structlog
from pydantic import BaseModel, SecretStr

M = TypeVar("M", bound=BaseModel)
_log = structlog.get_logger(__name__)


class ServiceProblem(Exception):
    """A service did not do what was asked."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message


class ServiceUnavailable(ServiceProblem):
    """The service could not be reached, timed out or answered 5xx."""


class ServiceError(ServiceProblem):
    """The service refused the request (4xx); ``code`` and ``details`` are from its error body."""

    def __init__(
        self, service: str, status: int, code: str, message: str, details: Any = None
    ) -> None:
        super().__init__(service, message)
        self.status, self.code, self.details = status, code, details


class ServiceClient:
    """One service's HTTP API. The key is sent on every request and never leaves the server."""

    service = "service"

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key.get_secret_value()}"},
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 3.0)),
            transport=transport,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def reachable(self) -> bool:
        try:
            response = await self._http.get("/healthz", timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The response when it is 2xx; otherwise ``ServiceUnavailable`` or ``ServiceError``."""
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "", [])}
        try:
            response = await self._http.request(
                method, path, params=clean, json=json, headers=headers
            )
        except httpx.HTTPError as exc:
            _log.warning("service.unreachable", service=self.service, error=type(exc).__name__)
            raise ServiceUnavailable(self.service, "not reachable") from exc
        if response.status_code >= 500:
            _log.warning("service.failed", service=self.service, status=response.status_code)
            raise ServiceUnavailable(self.service, f"answered {response.status_code}")
        if response.status_code >= 400:
            raise _refused(self.service, response)
        return response

    async def get(self, path: str, model: type[M], **params: Any) -> M:
        response = await self.send("GET", path, params=params)
        return model.model_validate(response.json())

    async def call(self, method: str, path: str, model: type[M], body: Any = None) -> M:
        response = await self.send(method, path, json=body)
        return model.model_validate(response.json())


def _refused(service: str, response: httpx.Response) -> ServiceError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    return ServiceError(
        service,
        response.status_code,
        str(error.get("code", "refused")),
        str(error.get("message", f"answered {response.status_code}")),
        error.get("details"),
    )
