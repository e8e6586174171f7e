"""Pure: the settings and mapping forms into the connector's models.

The mapping form has one select per upstream value, named ``<section>:<value>``
(``tax_rates:GST15`` = ``OUTPUT2``); an empty choice removes the mapping. Values the form does
not show are kept as they were.
"""

from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from console.clients.connector import Mappings, OrgSettings

SECTIONS = ("accounts", "tax_rates", "currencies")


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def settings_from_form(form: Mapping[str, Any]) -> OrgSettings:
    try:
        return OrgSettings(
            sync_mode=_text(form, "sync_mode") or "automatic",
            auto_create_contacts=_text(form, "auto_create_contacts") == "on",
            invoice_status=_text(form, "invoice_status") or "AUTHORISED",
            default_account_code=_text(form, "default_account_code") or None,
        )
    except ValidationError as invalid:
        raise RequestValidationError(invalid.errors()) from invalid


def mappings_from_form(form: Mapping[str, Any], current: Mappings) -> Mappings:
    sections: dict[str, dict[str, str]] = {s: dict(getattr(current, s)) for s in SECTIONS}
    for name in form:
        section, _, value = name.partition(":")
        if section not in sections or not value:
            continue
        choice = _text(form, name)
        if choice:
            sections[section][value] = choice
        else:
            sections[section].pop(value, None)
    return Mappings(**sections)
