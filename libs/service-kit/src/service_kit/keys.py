"""The identity of one invoice across the services: ``{org_id}/{invoice_id}``.

Every store keeps an invoice's document under this ``_id`` (the snapshot, the link, the
sync-log status, the scheduled retry), so lookups are by primary key. Identifiers cannot
contain "/" (``sync_schemas.invoice.Identifier``), so the pair is unambiguous.
"""


def invoice_key(org_id: str, invoice_id: str) -> str:
    return f"{org_id}/{invoice_id}"
