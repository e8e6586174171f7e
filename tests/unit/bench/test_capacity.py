"""The cores a goal needs at a run's measured CPU cost (``bench.capacity``): the arithmetic
behind `make bench`'s "cores_needed" rows."""

import pytest

from bench.capacity import cores_for_rate, cores_for_seconds, drain_needs, pipeline_needs
from bench.harness import cpu_spent


def test_a_rate_goal_scales_the_cost_per_invoice_and_leaves_the_harness_out() -> None:
    cpu = {"ferretdb": 2.0, "xero-connector": 1.0, "bench-harness": 5.0}

    assert cores_for_rate(cpu, 1000, 2000) == pytest.approx(6.0)
    assert cores_for_rate(cpu, 1000, 2000, ["ferretdb"]) == pytest.approx(4.0)


def test_a_time_goal_divides_the_work_by_the_time_allowed() -> None:
    assert cores_for_seconds({"kafka": 1.0, "xero-sandbox": 2.0}, 1.5) == pytest.approx(2.0)


def test_nothing_measured_or_no_time_allowed_is_an_error_not_a_figure() -> None:
    with pytest.raises(ValueError, match="no invoices"):
        cores_for_rate({"ferretdb": 1.0}, 0, 100)
    with pytest.raises(ValueError, match="some time"):
        cores_for_seconds({"ferretdb": 1.0}, 0)


def test_a_drain_goal_splits_the_connector_from_the_rest() -> None:
    run = {
        "lower_bound_seconds": 0.25,
        "cpu_seconds": {
            "xero-connector": 1.5,
            "xero-sandbox": 1.125,
            "ferretdb": 0.6,
            "kafka": 0.15,
            "bench-harness": 0.3,
        },
    }

    needs = drain_needs(run, 1.5)

    assert needs == {
        "goal_seconds": 0.38,  # 1.5 x 0.25 = 0.375, rounded
        "cores": 9.0,  # 3.375 CPU seconds in 0.375 s
        "cores_connector": 4.0,
        "cores_others": 5.0,
    }


def test_a_result_file_from_before_cpu_seconds_were_kept_gives_no_figure() -> None:
    assert drain_needs({"lower_bound_seconds": 3.57, "cpu_cores_used": {"kafka": 0.1}}, 1.1) is None
    assert pipeline_needs({"invoices": 4000}, {"end_to_end": 10_000}) == {}


def test_a_pipeline_run_gives_each_process_cost_and_each_goal_cores() -> None:
    run = {
        "invoices": 4000,
        "cpu_seconds": {"ferretdb": 4.0, "sync-log": 1.0, "kafka": 2.0, "bench-harness": 9.0},
    }

    needs = pipeline_needs(run, {"end_to_end": 10_000, "ceiling_for_latency": 2_000})

    assert needs["cpu_ms_per_invoice"] == {"ferretdb": 1.0, "kafka": 0.5, "sync-log": 0.25}
    assert needs["goals"]["end_to_end"] == {"per_s": 10_000, "cores": 17.5, "cores_store": 10.0}
    assert needs["goals"]["ceiling_for_latency"] == {
        "per_s": 2_000,
        "cores": 3.5,
        "cores_store": 2.0,
    }


def test_cpu_spent_is_each_roles_difference_and_a_role_new_since_counts_whole() -> None:
    before = {"ferretdb": 10.0, "kafka": 3.0}
    after = {"ferretdb": 12.5, "kafka": 3.0, "xero-connector": 0.8}

    assert cpu_spent(before, after) == {"ferretdb": 2.5, "xero-connector": 0.8}
