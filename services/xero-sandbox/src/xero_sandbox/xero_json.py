"""Xero's JSON conventions: ``/Date(ms+0000)/`` dates, money as numbers read exactly, the
request and response envelopes and the error bodies (ApiException and problem-details shapes)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import PostDataInvalid

JsonDict = dict[str, Any]

_MS_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<tz>[+-]\d{4})?\)/$")


def ms_timestamp(at: float) -> str:
    """``DateTimeUTC`` of the envelope: no offset, as Xero sends it."""
    return f"/Date({int(at * 1000)})/"


def ms_datetime(at: float) -> str:
    """``UpdatedDateUTC`` and friends: milliseconds with an explicit ``+0000``."""
    return f"/Date({int(at * 1000)}+0000)/"


def ms_date(day: date) -> str:
    midnight = datetime.combine(day, time(), tzinfo=UTC)
    return f"/Date({int(midnight.timestamp() * 1000)}+0000)/"


def date_string(day: date) -> str:
    """The ``DateString``/``DueDateString`` companions Xero adds next to MS dates."""
    return f"{day.isoformat()}T00:00:00"


def utc_string(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_date(value: object) -> date | None:
    """Accept what clients send: ``YYYY-MM-DD``, ISO date-times and MS dates.

    Returns None when the value is not a date, so the caller can report it.
    """
    if not isinstance(value, str) or not value:
        return None
    matched = _MS_DATE.match(value)
    if matched:
        return datetime.fromtimestamp(int(matched["ms"]) / 1000, tz=UTC).date()
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def parse_elements(body: bytes, plural: str) -> list[Any]:
    """The elements of a PUT/POST body: Xero takes ``{"<Plural>": [...]}``, a bare list, or one
    element on its own. JSON numbers become Decimals straight from their text, never binary
    floats, so ``0.1648`` or ``33.335`` are rounded as written."""
    try:
        data = json.loads(body or b"null", parse_float=Decimal)
    except ValueError as error:
        raise PostDataInvalid("body is not JSON") from error
    if isinstance(data, dict) and plural in data:
        data = data[plural]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise PostDataInvalid(f"expected {plural}")
    return data


def json_default(value: object) -> Any:
    """``json.dumps`` hook: request data echoed back (failed elements) may hold Decimals."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def parse_decimal(value: object) -> Decimal | None:
    """Numbers may arrive as JSON numbers or numeric strings; None when neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int | float | str):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def money(value: Decimal) -> float:
    return float(value)


def envelope(plural: str, items: list[JsonDict], provider: str, at: float) -> JsonDict:
    return {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": provider,
        "DateTimeUTC": ms_timestamp(at),
        plural: items,
    }


def validation_exception(elements: list[JsonDict]) -> JsonDict:
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": elements,
    }


def api_exception(number: int, kind: str, message: str) -> JsonDict:
    """Non-validation ApiException bodies (e.g. ``PostDataInvalidException``)."""
    return {"ErrorNumber": number, "Type": kind, "Message": message}


def problem(status: int, title: str, detail: str) -> JsonDict:
    """The RFC 7807-like body Xero's gateway uses for 401, 403 and 429."""
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
