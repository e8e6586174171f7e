"""schemathesis against the OpenAPI documents of the three services and the Xero sandbox, all
running as ``make run`` starts them: no 5xx, every response matches its documented schema and
status code. Afterwards nothing is lost: no event the fuzzing published was dead-lettered, and
a clean invoice still syncs once.

Left out, because they change the shared stack on purpose (their own tests cover them):
``PUT /_sandbox/faults`` (injects 5xx and expires tokens by design), ``PUT /_sandbox/limits``
(429 by design) and ``POST /_sandbox/reset`` (forgets the connected demo tenant).

Each operation's cases come from schemathesis's own strategy (``APIOperation.as_strategy``)
under hypothesis, in both generation modes; its pytest loader for a fixture's schema
(``schemathesis.pytest.from_fixture``) fails on pytest 9 (``Function._nodeid``).
"""

import asyncio
import base64
import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, checks
from schemathesis.openapi import from_url

from local_infra import demo as demo_cases
from local_infra.demo import Demo
from local_infra.stack import Stack
from service_kit.events import Topics
from tests.reliability.bad_input.test_dlq_fuzz import read_topic

# Examples per operation and generation mode: valid input, and input the schema forbids.
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
DESTRUCTIVE = frozenset(
    {("PUT", "/_sandbox/faults"), ("PUT", "/_sandbox/limits"), ("POST", "/_sandbox/reset")}
)


@dataclass
class Report:
    cases: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    unsatisfiable: list[str] = field(default_factory=list)

    @property
    def operations(self) -> int:
        """How many operations had valid input sent to them."""
        return len({label for label in self.cases if label.endswith("[positive]")})

    def __str__(self) -> str:
        return f"{len(self.failures)} failing operations:\n" + "\n\n".join(self.failures)


def fuzz(
    schema: Any, headers: dict[str, str], skip: frozenset[tuple[str, str]] = frozenset()
) -> Report:
    """Every operation of the schema, in both generation modes; every failure collected."""
    report = Report()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in skip:
            for mode, examples in EXAMPLES.items():
                fuzz_operation(operation, mode, examples, headers, report)
    return report


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    headers: dict[str, str],
    report: Report,
) -> None:
    label = f"{operation.method.upper()} {operation.path} [{mode.value}]"

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure says enough
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: Case[Any]) -> None:  # Any: schemathesis' APIOperation, itself generic
        report.cases[label] += 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        call()
    except Unsatisfiable:  # nothing to negate (no parameters, or unconstrained strings)
        report.unsatisfiable.append(label)
    except (Exception, BaseExceptionGroup) as failure:  # schemathesis raises a group
        report.failures.append(f"{label}: {failure}")


def service_schema(stack: Stack, name: str) -> Any:
    return from_url(f"{stack.urls[name]}/openapi.json")


@pytest.fixture(scope="module")
def api_headers(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.settings.dev_api_key}"}


@pytest.fixture(scope="module")
def xero_headers(stack: Stack) -> dict[str, str]:
    """A tenant of its own in the sandbox and an access token to it, through the real OAuth
    code flow (PKCE), as the connector gets one."""
    with httpx.Client(base_url=stack.settings.sandbox_url, timeout=15) as http:
        created = http.post("/_sandbox/orgs", json={"name": "Fuzz Ltd", "currencies": ["NZD"]})
        assert created.status_code == 201, created.text
        tenant = created.json()["tenant_id"]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        redirect = "http://127.0.0.1:9/callback"
        consent = http.get(
            "/identity/connect/authorize",
            params={
                "response_type": "code",
                "client_id": "sandbox",
                "redirect_uri": redirect,
                "scope": "offline_access accounting.transactions accounting.contacts "
                "accounting.settings",
                "state": "fuzz",
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
                "sandbox_tenant_id": tenant,
            },
        )
        assert consent.status_code == 302, consent.text
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        token = http.post(
            "/connect/token",
            auth=("sandbox", "sandbox"),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "code_verifier": verifier,
            },
        )
        assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}", "Xero-tenant-id": tenant}


# Each API with the headers its operations need, the operations left out, and how many it has.
APIS: dict[str, tuple[str, frozenset[tuple[str, str]], int]] = {
    "invoice-events": ("api", frozenset(), 8),
    "xero-connector": ("api", frozenset(), 18),
    "sync-log": ("api", frozenset(), 10),
    "xero-sandbox": ("xero", DESTRUCTIVE, 35),
}


@pytest.fixture(scope="module")
def reports(
    stack: Stack, api_headers: dict[str, str], xero_headers: dict[str, str]
) -> dict[str, Report]:
    """The four APIs fuzzed once, one after the other, before any test looks at the result."""
    headers = {"api": api_headers, "xero": xero_headers}
    return {
        name: fuzz(service_schema(stack, name), headers[kind], skip)
        for name, (kind, skip, _) in APIS.items()
    }


@pytest.mark.parametrize("api", list(APIS))
def test_every_answer_is_documented_and_none_is_a_server_error(
    api: str, reports: dict[str, Report]
) -> None:
    report = reports[api]
    print(f"{api}: {report.operations} operations, {report.cases.total()} cases")
    assert not report.failures, str(report)
    _, skip, operations = APIS[api]
    assert report.operations == operations - len(skip)


async def test_after_the_fuzzing_nothing_was_lost(
    stack: Stack, demo: Demo, reports: dict[str, Report]
) -> None:
    """Every event the fuzzed APIs published was handled (none dead-lettered), every process
    is up, and the pipeline still syncs an invoice, once."""
    assert sum(report.cases.total() for report in reports.values()) > 0
    dead = await read_topic(stack.kafka, Topics.with_prefix(stack.settings.topic_prefix).dlq)
    assert [dict(r.headers).get("dlq_reason") for r in dead] == []
    [row] = await asyncio.to_thread(demo_cases.clean_invoice, demo)
    assert (row.status, row.note) == ("synced", "1 copy in Xero")
    assert stack.dead() is None
