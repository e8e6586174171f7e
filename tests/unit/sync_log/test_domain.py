"""How an invoice's current status follows from observations (pure, table-driven)."""

from datetime import UTC, datetime, timedelta

import pytest

from sync_log.domain import (
    InvoiceState,
    LastError,
    Observation,
    Status,
    apply,
    observe,
    observe_dead_letter,
    to_millis,
)
from sync_schemas import EventType, new_event
from tests.support.samples import sample_data

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def obs(version: int, status: Status, minute: int, **extra: object) -> Observation:
    error = None
    if status is Status.FAILED:
        error = LastError("tax_rate_unmapped", "no mapping", (), "map it", T0)
    fields: dict[str, object] = {
        "event_id": f"e-{version}-{status}-{minute}",
        "type": "t",
        "occurred_at": T0 + timedelta(minutes=minute),
        "org_id": "org_a",
        "invoice_id": "inv_1",
        "invoice_number": "INV-1",
        "version": version,
        "status": status,
        "error": error,
    }
    return Observation(**(fields | extra))  # type: ignore[arg-type]


def fold(*observations: Observation) -> InvoiceState | None:
    state = None
    for o in observations:
        state = apply(state, o)
    return state


P, S, F = Status.PENDING, Status.SYNCED, Status.FAILED

CASES = {
    "created then synced": ([obs(1, P, 0), obs(1, S, 1)], (1, S)),
    "late result of an older version is ignored": (
        [obs(3, P, 0), obs(3, S, 2), obs(2, F, 3)],
        (3, S),
    ),
    "v3 result then late v2 request": ([obs(3, S, 5), obs(2, P, 6)], (3, S)),
    "result read before its own request": ([obs(1, S, 5), obs(1, P, 4)], (1, S)),
    "result and request in the same millisecond": ([obs(1, S, 5), obs(1, P, 5)], (1, S)),
    "re-sync after a failure goes pending": ([obs(1, F, 1), obs(1, P, 2)], (1, P)),
    "newer version resets to pending": ([obs(1, S, 1), obs(2, P, 2)], (2, P)),
    "newer version wins even with an older clock": ([obs(1, S, 9), obs(2, P, 1)], (2, P)),
    # Causes first, whatever the clocks: the producer's clock 5 minutes ahead of the
    # connector's, the request read before or after its outcome.
    "outcome of a request dated later than it": (
        [obs(1, P, 10, event_id="req"), obs(1, S, 5, cause_event_id="req")],
        (1, S),
    ),
    "request dated later read after its outcome": (
        [obs(1, S, 5, cause_event_id="req"), obs(1, P, 10, event_id="req")],
        (1, S),
    ),
    "failure of a request dated later than it": (
        [obs(1, P, 10, event_id="req"), obs(1, F, 5, cause_event_id="req")],
        (1, F),
    ),
    "another request after the outcome still goes pending": (
        [obs(1, S, 5, cause_event_id="req"), obs(1, P, 10, event_id="resync")],
        (1, P),
    ),
    "an answered request of the previous version is just old": (
        [
            obs(1, S, 5, cause_event_id="r1"),
            obs(2, P, 6, event_id="r2"),
            obs(1, P, 9, event_id="r1"),
        ],
        (2, P),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_current_status_follows_the_newest_version(case: str) -> None:
    observations, (version, status) = CASES[case]
    state = fold(*observations)
    assert state is not None
    assert (state.version, state.status) == (version, status)


def test_applying_the_same_observations_twice_changes_nothing() -> None:
    sequence = [obs(1, P, 0), obs(1, F, 1), obs(2, P, 2, batch_id="b1"), obs(2, S, 3)]
    once = fold(*sequence)
    assert fold(*sequence, *sequence) == once


def test_last_error_stays_while_pending_and_clears_when_synced() -> None:
    failed_then_pending = fold(obs(1, F, 1), obs(1, P, 2))
    assert failed_then_pending is not None
    assert failed_then_pending.last_error is not None
    assert failed_then_pending.error_code is None  # the current status is not a failure
    synced = apply(failed_then_pending, obs(1, S, 3))
    assert synced is not None
    assert synced.last_error is None


def test_batch_membership_accumulates_even_from_older_observations() -> None:
    state = fold(obs(2, S, 5, batch_id="b2"), obs(1, P, 1, batch_id="b1"))
    assert state is not None
    assert state.batch_ids == ("b2", "b1")
    assert (state.version, state.status) == (2, S)


def test_xero_invoice_id_survives_a_new_pending_version() -> None:
    state = fold(obs(1, S, 1, xero_invoice_id="x-1"), obs(2, P, 2))
    assert state is not None
    assert state.xero_invoice_id == "x-1"


def test_observation_without_an_invoice_changes_no_state() -> None:
    assert apply(None, obs(1, F, 1, invoice_id=None)) is None


def test_dead_letter_never_overrides_a_valid_version() -> None:
    dlq = observe_dead_letter(
        b"org_a",
        b'{"org_id": "org_a", "invoice_id": "inv_1", "version": "x"}',
        {
            "dlq_reason": "schema_violation",
            "dlq_error": "version: bad",
            "dlq_source_topic": "invoices.events",
            "dlq_partition": "3",
            "dlq_offset": "17",
        },
        T0 + timedelta(hours=1),
    )
    assert dlq.event_id == "dlq:invoices.events:3:17"
    assert dlq.error is not None
    assert dlq.error.error_code == "invalid_event"
    synced = fold(obs(1, S, 1))
    assert apply(synced, dlq) == synced
    first_sight = apply(None, dlq)
    assert first_sight is not None
    assert (first_sight.status, first_sight.error_code) == (F, "invalid_event")


def test_observing_each_event_type() -> None:
    kinds = {}
    for event_type in EventType:
        event = new_event(event_type, sample_data(event_type), source="/t")
        o = observe(event)
        kinds[event_type] = o.status if o else None
        if o:
            assert o.occurred_at == to_millis(event.time)
            assert o.entry()["_id"] == event.id
    assert kinds == {
        EventType.INVOICE_CREATED: P,
        EventType.INVOICE_UPDATED: P,
        EventType.INVOICE_SYNC_REQUESTED: P,
        EventType.INVOICE_SYNC_SUCCEEDED: S,
        EventType.INVOICE_SYNC_FAILED: F,
        EventType.XERO_CONNECTION_CHANGED: None,
    }


def test_causes_survive_a_round_trip_through_the_store() -> None:
    from sync_log.adapters.mongo import state_from_doc, state_to_doc

    state = fold(obs(1, P, 10, event_id="req"), obs(1, S, 5, cause_event_id="req"))
    assert state is not None
    assert state_from_doc(state_to_doc(state, T0)) == state
