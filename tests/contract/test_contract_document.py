"""docs/contract.md says what the code does today: its generated tables are current, and the
generator misses nothing the code declares."""

import json
import re

from local_infra import contract_reference
from local_infra.contract_reference import DOCUMENT, stale, updated
from sync_schemas import ErrorCode, EventType, Invoice, topics
from tests.support.samples import CONTRACT_INVOICE


def test_the_contract_document_is_not_stale() -> None:
    assert stale(DOCUMENT.read_text()) == [], (
        "the code changed: run `python -m local_infra.contract_reference --write` "
        "and commit docs/contract.md"
    )


def test_every_service_endpoint_topic_event_and_error_code_is_in_the_document() -> None:
    text = DOCUMENT.read_text()
    for directory, package in contract_reference.service_packages():
        assert f"### {directory} (`:{contract_reference.default_port(package)}`)" in text
        for method, path, _ in contract_reference._operations(contract_reference.openapi(package)):
            assert re.search(rf"\| {method} \| `{re.escape(path)}` \|", text), (method, path)
    for topic in topics.ALL_TOPICS:
        assert f"| `{topic}` |" in text, topic
    for event_type in EventType:
        assert f"`{event_type.value}`" in text, event_type
        for field in event_type.model.model_fields:
            assert f"| `{field}` |" in text, (event_type, field)
    for code in ErrorCode:
        assert f"| `{code.value}` | {code.meaning}" in text, code
    for target, _ in contract_reference.make_targets():
        assert f"| `make {target}` |" in text, target


def test_the_contract_paths_of_every_service_are_in_the_code() -> None:
    """The paths users rely on: a rename or a removal fails here, not only in the table."""
    expected = {
        "invoice_events": {
            ("POST", "/v1/invoices"),
            ("POST", "/v1/invoices/batch"),
            ("GET", "/v1/invoices/{org_id}/{invoice_id}"),
            ("POST", "/v1/invoices/{org_id}/{invoice_id}/sync"),
            ("POST", "/v1/resync"),
        },
        "xero_connector": {
            ("GET", "/v1/orgs/{org_id}/connection"),
            ("POST", "/v1/orgs/{org_id}/connection"),
            ("DELETE", "/v1/orgs/{org_id}/connection"),
            ("GET", "/v1/oauth/callback"),
            ("GET", "/v1/orgs/{org_id}/settings"),
            ("PUT", "/v1/orgs/{org_id}/settings"),
            ("GET", "/v1/orgs/{org_id}/mappings"),
            ("PUT", "/v1/orgs/{org_id}/mappings"),
            ("POST", "/v1/orgs/{org_id}/mappings/check"),
            ("POST", "/v1/orgs/{org_id}/reset"),
            ("POST", "/v1/orgs/{org_id}/invoices/{invoice_id}/link"),
            ("DELETE", "/v1/orgs/{org_id}/invoices/{invoice_id}/link"),
        },
        "sync_log": {
            ("GET", "/v1/sync-log"),
            ("GET", "/v1/invoices"),
            ("GET", "/v1/invoices/{org_id}/{invoice_id}"),
            ("GET", "/v1/stats"),
            ("GET", "/v1/batches/{batch_id}"),
        },
    }
    ops = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
    for package, paths in expected.items():
        spec = contract_reference.openapi(package)
        served = {(method, path) for method, path, _ in contract_reference._operations(spec)}
        assert paths | ops <= served, (package, (paths | ops) - served)


def test_write_renders_each_block_and_keeps_the_prose() -> None:
    text = (
        "intro\n<!-- generated:topics -->\nSTALE\n<!-- /generated:topics -->\n"
        "middle\n<!-- generated:errors -->\n<!-- /generated:errors -->\noutro\n"
    )
    new = updated(text)
    assert new.startswith("intro\n<!-- generated:topics -->\n| topic |")
    assert "STALE" not in new
    assert "\nmiddle\n" in new and new.endswith("<!-- /generated:errors -->\noutro\n")
    assert "| `invoices.sync-results` |" in new and "| `not_connected` |" in new


def test_a_missing_or_unknown_block_is_reported() -> None:
    problems = stale("<!-- generated:nonsense -->\n<!-- /generated:nonsense -->\n")
    assert "unknown block 'nonsense'" in problems
    assert "no block 'endpoints' in the document" in problems


def test_the_documents_example_invoice_is_the_tests_and_valid() -> None:
    block = re.search(r"```json\n(.*?)```", DOCUMENT.read_text(), re.DOTALL)
    assert block is not None
    example = json.loads(block.group(1))
    assert example == CONTRACT_INVOICE
    Invoice.model_validate(example)
