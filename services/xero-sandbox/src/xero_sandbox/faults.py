"""Standing faults (error rate, error status, latency), globally or for one tenant."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FaultSpec:
    error_rate: float = 0.0
    error_status: int = 503
    latency_ms: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    error_status: int | None  # answer this status instead of doing the call
    latency_seconds: float  # then wait this long before answering


class Faults:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()  # noqa: S311 (not for security)
        self.everywhere = FaultSpec()
        self.by_tenant: dict[str, FaultSpec] = {}

    def update(
        self,
        tenant_id: str | None,
        *,
        error_rate: float | None,
        error_status: int | None,
        latency_ms: int | None,
    ) -> FaultSpec:
        """Change only the fields given; a tenant's spec overrides the global one entirely."""
        current = self.by_tenant.get(tenant_id, self.everywhere) if tenant_id else self.everywhere
        spec = FaultSpec(
            error_rate=current.error_rate if error_rate is None else error_rate,
            error_status=current.error_status if error_status is None else error_status,
            latency_ms=current.latency_ms if latency_ms is None else latency_ms,
        )
        if tenant_id:
            self.by_tenant[tenant_id] = spec
        else:
            self.everywhere = spec
        return spec

    def decide(self, tenant_id: str) -> Verdict:
        spec = self.by_tenant.get(tenant_id, self.everywhere)
        failing = spec.error_rate > 0 and self._rng.random() < spec.error_rate
        return Verdict(spec.error_status if failing else None, spec.latency_ms / 1000)

    def clear(self) -> None:
        self.everywhere = FaultSpec()
        self.by_tenant.clear()

    def describe(self) -> dict[str, object]:
        return {
            "everywhere": _spec_json(self.everywhere),
            "by_tenant": {tenant: _spec_json(spec) for tenant, spec in self.by_tenant.items()},
        }


def _spec_json(spec: FaultSpec) -> dict[str, object]:
    return {
        "error_rate": spec.error_rate,
        "error_status": spec.error_status,
        "latency_ms": spec.latency_ms,
    }
