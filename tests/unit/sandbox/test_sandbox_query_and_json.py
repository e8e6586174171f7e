from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from xero_sandbox.errors import PostDataInvalid, QueryParseError
from xero_sandbox.query import Clause, paginate, parse_where, unit_decimal_places
from xero_sandbox.xero_json import (
    date_string,
    json_default,
    ms_date,
    ms_timestamp,
    parse_date,
    parse_decimal,
    parse_elements,
)

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


def test_request_numbers_are_read_exactly() -> None:
    line_json = b'{"UnitAmount": 0.1648, "Quantity": 3, "TaxAmount": "1.10"}'
    body = b'{"Invoices": [{"LineItems": [' + line_json + b"]}]}"
    (element,) = parse_elements(body, "Invoices")
    line = element["LineItems"][0]
    assert line["UnitAmount"] == Decimal("0.1648") and isinstance(line["UnitAmount"], Decimal)
    assert line["Quantity"] == 3  # integers stay integers
    assert parse_decimal(line["TaxAmount"]) == Decimal("1.10")
    assert parse_decimal(Decimal("NaN")) is None
    assert parse_elements(b'[{"Name": "A"}]', "Contacts") == [{"Name": "A"}]
    assert parse_elements(b'{"Name": "A"}', "Contacts") == [{"Name": "A"}]
    for unreadable in (b"{", b'"text"'):
        with pytest.raises(PostDataInvalid):
            parse_elements(unreadable, "Contacts")


def test_echoed_decimals_serialise_as_numbers() -> None:
    text = json.dumps({"UnitAmount": Decimal("0.1648")}, default=json_default)
    assert text == '{"UnitAmount": 0.1648}'


@pytest.mark.parametrize(("query", "places"), [({}, 2), ({"unitdp": "4"}, 4), ({"unitdp": "3"}, 2)])
def test_unitdp(query: dict[str, str], places: int) -> None:
    assert unit_decimal_places(query) == places
