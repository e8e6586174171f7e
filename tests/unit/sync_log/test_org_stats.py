"""Per-organisation counts: the aggregation's groups folded into one row per organisation."""

from sync_log.adapters.mongo_reader import org_stats


def test_groups_fold_into_one_row_per_org_with_every_status() -> None:
    groups = [
        {"_id": {"org_id": "org_b", "status": "synced"}, "n": 4},
        {"_id": {"org_id": "org_a", "status": "failed"}, "n": 2},
        {"_id": {"org_id": "org_a", "status": "synced"}, "n": 1},
        {"_id": {"org_id": "org_a", "status": "pending"}, "n": 3},
        {"_id": {"status": "failed"}, "n": 9},  # a record without an organisation: not a row
    ]
    rows = [(r.org_id, r.by_status) for r in org_stats(groups)]
    assert rows == [
        ("org_a", {"pending": 3, "synced": 1, "failed": 2}),
        ("org_b", {"pending": 0, "synced": 4, "failed": 0}),
    ]


def test_no_invoices_no_rows() -> None:
    assert org_stats([]) == []
