"""Query filters, cursors, and the indexes that serve every filter the API can produce."""

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from sync_log.domain import Status
from sync_log.queries import (
    ENTRY_INDEXES,
    ENTRY_TIME,
    INVOICE_INDEXES,
    INVOICE_TIME,
    LOCAL_INVOICE_INDEXES,
    Cursor,
    Filters,
    InvalidCursor,
    entry_filter,
    invoice_filter,
    serving_index,
)

AT = datetime(2026, 11, 20, 9, 30, 1, 123000, tzinfo=UTC)


def test_cursor_round_trips() -> None:
    cursor = Cursor(AT, "evt-42")
    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("token", ["", "nope", "bnVsbA", "W10", "WyJ4IiwgMV0"])
def test_a_foreign_cursor_is_refused(token: str) -> None:
    with pytest.raises(InvalidCursor):
        Cursor.decode(token)


def test_filters_become_equality_range_and_keyset_conditions() -> None:
    f = Filters(org_id="org_a", status=Status.FAILED, batch_id="b1", since=AT)
    assert invoice_filter(f, Cursor(AT, "k")) == {
        "org_id": "org_a",
        "status": "failed",
        "batch_ids": "b1",
        "status_at": {"$gte": AT},
        "$or": [{"status_at": {"$lt": AT}}, {"status_at": AT, "_id": {"$lt": "k"}}],
    }
    assert entry_filter(Filters(batch_id="b1"), None) == {"batch_id": "b1"}


def test_one_error_code_is_an_equality_several_are_any_of() -> None:
    one = Filters(error_codes=("contact_missing", "contact_missing"))
    assert invoice_filter(one, None) == {"error_code": "contact_missing"}
    several = Filters(org_id="o", error_codes=("tax_rate_unmapped", "account_unmapped"))
    assert invoice_filter(several, None) == {
        "org_id": "o",
        "error_code": {"$in": ["account_unmapped", "tax_rate_unmapped"]},
    }


# The operator's filter combinations: organisation with any one other filter, or one alone.
SINGLE = ["status", "error_code", "invoice_id", "invoice_number", "batch_id"]
COMBOS = [{}, {"org_id": "o"}] + [
    {**org, name: "x"} for org, name in itertools.product([{}, {"org_id": "o"}], SINGLE)
]
# ... and the resync filter: failed invoices with one error code, in one organisation or all.
COMBOS += [{"status": "x", "error_code": "x"}, {"org_id": "o", "status": "x", "error_code": "x"}]
# ... with any of several error codes, and by invoice number (the console's resync filters).
COMBOS += [
    {"org_id": "o", "status": "x", "error_code": "x,y"},
    {"status": "x", "error_code": "x,y"},
    {"org_id": "o", "status": "x", "error_code": "x,y", "invoice_number": "n"},
]


@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: "+".join(c) or "none")
def test_every_filter_combination_has_a_serving_index(combo: dict[str, str]) -> None:
    kwargs: dict[str, Any] = {k: v for k, v in combo.items() if k != "error_code"}
    if "status" in combo:
        kwargs["status"] = Status.FAILED
    if "error_code" in combo:
        kwargs["error_codes"] = tuple(combo["error_code"].split(","))
    f = Filters(**kwargs)
    assert serving_index(entry_filter(f, None), ENTRY_TIME, ENTRY_INDEXES) is not None
    assert serving_index(invoice_filter(f, None), INVOICE_TIME, INVOICE_INDEXES) is not None


def test_an_unindexed_filter_is_detected() -> None:
    assert serving_index({"reason": "manual"}, ENTRY_TIME, ENTRY_INDEXES) is None
    assert serving_index({"org_id": "o", "reason": "x"}, ENTRY_TIME, ENTRY_INDEXES) is None


def test_the_timeline_query_is_served_in_time_order() -> None:
    index = serving_index({"org_id": "o", "invoice_id": "i"}, ENTRY_TIME, ENTRY_INDEXES)
    assert index is not None
    assert [name for name, _ in index][:3] == ["invoice_id", "org_id", ENTRY_TIME]


@pytest.mark.parametrize(
    "view",
    [
        Filters(org_id="o"),
        Filters(org_id="o", status=Status.FAILED),
        Filters(org_id="o", error_codes=("contact_missing",)),
        Filters(org_id="o", status=Status.FAILED, error_codes=("contact_missing",)),
        Filters(org_id="o", invoice_number="INV-1"),
    ],
)
def test_the_operator_views_have_a_serving_index_on_the_local_server(view: Filters) -> None:
    assert serving_index(invoice_filter(view, None), INVOICE_TIME, LOCAL_INVOICE_INDEXES)


def test_the_local_indexes_are_few_and_cover_the_health_counts() -> None:
    assert len(LOCAL_INVOICE_INDEXES) == 5
    assert all(index in INVOICE_INDEXES for index in LOCAL_INVOICE_INDEXES)
    # the counts by status and error code of one organisation: equality, then the groups
    assert [("org_id", 1), ("status", 1), ("error_code", 1)] in [
        index[:3] for index in LOCAL_INVOICE_INDEXES
    ]
