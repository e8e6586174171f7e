from __future__ import annotations

from datetime import date

import pytest

from xero_sandbox.errors import QueryParseError
from xero_sandbox.query import Clause, paginate, parse_where
from xero_sandbox.xero_json import date_string, ms_date, ms_timestamp, parse_date

FIELDS = ["Name", "EmailAddress", "Contact.ContactID", "IsCustomer"]


def test_where_clauses() -> None:
    clauses = parse_where(
        'Name=="Harbour Cafe" AND EmailAddress!="x@y.z" && Contact.ContactID==guid("AB-1") '
        '&& (IsCustomer==true) AND Name.StartsWith("harb")',
        FIELDS,
    )
    assert clauses == [
        Clause("Name", "==", "harbour cafe"),
        Clause("EmailAddress", "!=", "x@y.z"),
        Clause("Contact.ContactID", "==", "ab-1"),
        Clause("IsCustomer", "==", "true"),
        Clause("Name", "startswith", "harb"),
    ]
    assert clauses[0].test("HARBOUR CAFE")
    assert clauses[3].test(True)
    assert not clauses[4].test(None)


@pytest.mark.parametrize("text", ["Total>5", 'Name=="a" OR Name=="b"', 'Unknown=="x"'])
def test_unsupported_where_is_a_parse_error(text: str) -> None:
    with pytest.raises(QueryParseError):
        parse_where(text, FIELDS)


def test_paging() -> None:
    items = list(range(250))
    page, meta = paginate(items, 3, None)
    assert page == list(range(200, 250))
    assert meta == {"page": 3, "pageSize": 100, "pageCount": 3, "itemCount": 250}
    assert paginate(items, None, None) == (items, None)


def test_ms_dates() -> None:
    assert ms_date(date(2024, 11, 20)) == "/Date(1732060800000+0000)/"
    assert date_string(date(2024, 11, 20)) == "2024-11-20T00:00:00"
    assert ms_timestamp(1552326816.230) == "/Date(1552326816230)/"
    assert parse_date("/Date(1732060800000+0000)/") == date(2024, 11, 20)
    assert parse_date("2024-11-20T00:00:00") == date(2024, 11, 20)
    assert parse_date("2024-11-20") == date(2024, 11, 20)
    assert parse_date("soon") is None
