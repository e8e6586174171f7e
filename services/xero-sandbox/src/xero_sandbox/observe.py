"""What the control API reports: a bounded request log with secrets masked, and counters kept
incrementally so reading the stats costs nothing."""

from __future__ import annotations

import json
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

MASK = "***"
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_SECRET_WORDS = ("token", "secret", "password", "api-key", "apikey")
SECRET_FIELDS = frozenset(
    {"client_secret", "refresh_token", "access_token", "code", "code_verifier", "token", "id_token"}
)
MAX_BODY_CHARS = 20_000


def mask_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    masked = {}
    for name, value in headers:
        lower = name.lower()
        secret = lower in _SECRET_HEADERS or any(word in lower for word in _SECRET_WORDS)
        masked[lower] = MASK if secret else value
    return masked


def mask_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{k}={MASK if k in SECRET_FIELDS else v}" for k, v in pairs)


def mask_body(body: bytes, content_type: str) -> Any:
    """JSON bodies come back parsed; form bodies with their secret fields masked."""
    if not body:
        return None
    text = body.decode("utf-8", "replace")
    if "application/x-www-form-urlencoded" in content_type:
        return {
            k: MASK if k in SECRET_FIELDS else v for k, v in parse_qsl(text, keep_blank_values=True)
        }
    if len(text) > MAX_BODY_CHARS:
        return text[:MAX_BODY_CHARS] + "...(truncated)"
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


class RequestLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)

    def add(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        items = list(self._entries)
        return items[-limit:] if limit else items

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class _Counts:
    calls: int = 0
    responses_429: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_endpoint: Counter[str] = field(default_factory=Counter)

    def add(self, endpoint: str, status: int) -> None:
        self.calls += 1
        self.by_status[str(status)] += 1
        self.by_endpoint[endpoint] += 1
        if status == 429:
            self.responses_429 += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "responses_429": self.responses_429,
            "by_status": dict(self.by_status),
            "by_endpoint": dict(self.by_endpoint),
        }


class Stats:
    def __init__(self) -> None:
        self._total = _Counts()
        self._tenants: dict[str, _Counts] = {}
        self.problems_429: Counter[str] = Counter()

    def record(self, endpoint: str, status: int, tenant_id: str | None) -> None:
        self._total.add(endpoint, status)
        if tenant_id:
            self._tenants.setdefault(tenant_id, _Counts()).add(endpoint, status)

    def as_json(self) -> dict[str, Any]:
        return {
            "totals": {**self._total.as_json(), "by_problem_429": dict(self.problems_429)},
            "tenants": {tenant: counts.as_json() for tenant, counts in self._tenants.items()},
        }
