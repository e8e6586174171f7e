"""The three services' HTTP APIs as one small client, with errors an operator can act on.

    api = OpsApi(Endpoints(api_key="dev-key"))
    page = api.sync_log.get("/v1/sync-log", params={"org_id": "org_demo"})

``transport`` is the test seam (``httpx.MockTransport``).
"""

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Endpoints:
    api_key: str = "dev-key"
    invoice_events: str = "http://127.0.0.1:8001"
    xero_connector: str = "http://127.0.0.1:8002"
    sync_log: str = "http://127.0.0.1:8003"


class OpsError(Exception):
    """Something the operator must fix; ``str()`` says what."""


class ServiceClient:
    def __init__(
        self,
        name: str,
        base_url: str,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise OpsError(
                f"cannot reach {self.name} at {self.base_url} (connection refused): is "
                f"`make run` running, or is --{self.name}-url wrong?"
            ) from None
        except httpx.TimeoutException:
            raise OpsError(f"{self.name} at {self.base_url} did not answer in time") from None
        if response.status_code == 401:
            raise OpsError(
                f"{self.name} refused the API key (401): pass --api-key or set "
                "XERO_SYNC_API_KEY (make run prints the dev key)"
            )
        if response.status_code >= 400:
            raise OpsError(f"{self.name}: {_describe(response)}")
        return response.json() if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._http.close()


def _describe(response: httpx.Response) -> str:
    """The contract's error body ``{"error": {"code", "message", "details"}}`` as one line."""
    what = "not found" if response.status_code == 404 else f"HTTP {response.status_code}"
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return f"{what}: {response.text[:200]}"
    line = f"{what} ({error.get('code', '?')}): {error.get('message', '')}"
    details = error.get("details")
    if isinstance(details, list):
        line += "; " + "; ".join(
            f"{d.get('field', '?')}: {d.get('message', '')}" for d in details if isinstance(d, dict)
        )
    elif isinstance(details, dict) and details.get("remediation"):
        line += f" — {details['remediation']}"
    return line


class OpsApi:
    def __init__(self, endpoints: Endpoints, transport: httpx.BaseTransport | None = None):
        key = endpoints.api_key
        self.invoice_events = ServiceClient(
            "invoice-events", endpoints.invoice_events, key, transport
        )
        self.xero_connector = ServiceClient(
            "xero-connector", endpoints.xero_connector, key, transport
        )
        self.sync_log = ServiceClient("sync-log", endpoints.sync_log, key, transport)

    def close(self) -> None:
        for client in (self.invoice_events, self.xero_connector, self.sync_log):
            client.close()
