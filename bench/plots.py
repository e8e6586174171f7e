"""PNG plots of the results files (matplotlib, Agg backend: no display needed)."""

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.common import RESULTS


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _bars(ax: Any, labels: list[str], values: list[float], fmt: str) -> None:
    palette = ["#3b7dd8", "#d8693b", "#6a9f3b", "#8a5cc2", "#c2a25c"]
    bars = ax.bar(labels, values, color=(palette * 2)[: len(labels)])
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            fmt.format(value),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )


def plot_calls(out: Path) -> Path | None:
    calls, drain = _load("connector_calls"), _load("drain")
    if calls is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    values = [calls["calls_per_invoice"], calls.get("baseline_calls_per_invoice", 0.0)]
    _bars(left, ["batched", "baseline"], values, "{:.3f}")
    left.set_yscale("log")
    left.set_title("Xero calls per invoice")
    labels, ratios = ["1 org"], [calls["batched"]["drain_vs_lower_bound"]]
    for scale, ratio in calls.get("drain_vs_lower_bound_time_scale", {}).items():
        labels.append(f"1 org, scale {float(scale):g}")
        ratios.append(ratio)
    for name, run in (drain or {}).get("runs", {}).items():
        labels.append(f"{run['orgs']} orgs, {name.split('_')[1]} inst.")
        ratios.append(run["drain_vs_lower_bound"])
    _bars(right, labels, ratios, "{:.1f}x")
    right.axhline(1.1, color="grey", linestyle="--", linewidth=1)
    right.set_yscale("log")
    right.set_title("Drain / lower bound (target 1.1x)")
    right.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    path = out / "bench_calls_drain.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_pipeline(out: Path) -> Path | None:
    pipe = _load("pipeline")
    if pipe is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    labels = ["Kafka raw", "Mongo bulk", "Mongo upsert"] + [
        f"pipeline {k.split('_')[1]} inst." for k in pipe["runs"]
    ]
    values = [
        pipe["kafka_produce_consume_per_s"],
        pipe["mongo_bulk_insert_per_s"],
        pipe.get("mongo_upsert_by_id_per_s", 0.0),
    ] + [r["pipeline_invoices_per_s"] for r in pipe["runs"].values()]
    _bars(left, labels, values, "{:.0f}")
    left.set_yscale("log")
    left.set_title("Per second: raw parts vs pipeline (log)")
    left.tick_params(axis="x", labelsize=7)
    names = list(pipe["peak_rss_mb"])
    _bars(right, names, [pipe["peak_rss_mb"][n] for n in names], "{:.0f}")
    right.set_title("Peak RSS per service process (MB)")
    right.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    path = out / "bench_pipeline.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_store_latency(out: Path) -> Path | None:
    pipe = _load("pipeline")
    store = ((pipe or {}).get("runs", {}).get("instances_1") or {}).get("store")
    if pipe is None or store is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    names = list(store["by_service"])
    values = [store["by_service"][n]["statements"] for n in names]
    _bars(left, [*names, "all"], [*values, store["statements_per_invoice"]], "{:.2f}")
    left.axhline(3, color="grey", linestyle="--", linewidth=1)
    left.set_title("Store statements per invoice (target 3)")
    left.tick_params(axis="x", labelsize=7)
    rate = pipe.get("latency_rate_per_s", 0)
    _bars(right, ["p50", "p99"], [pipe["latency_p50_ms"], pipe["latency_p99_ms"]], "{:.0f}")
    right.axhline(500, color="grey", linestyle="--", linewidth=1)
    right.set_title(f"Latency at {rate:g}/s, ms (target p99 500 at 1,000/s)", fontsize=9)
    fig.tight_layout()
    path = out / "bench_store_latency.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_queries(out: Path) -> Path | None:
    query = _load("queries")
    if query is None:
        return None
    views = query["views"]
    labels = list(views)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for offset, key, colour in ((-0.2, "p50_ms", "#3b7dd8"), (0.2, "p95_ms", "#d8693b")):
        values = [views[v][key] for v in labels]
        positions = [i + offset for i in range(len(labels))]
        bars = ax.bar(positions, values, width=0.4, color=colour, label=key[:3])
        for bar, value in zip(bars, values, strict=True):
            ax.annotate(
                f"{value:.0f}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=20)
    ax.axhline(query["target_p95_ms"], color="grey", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title(f"Operator views at {query['invoices']:,} invoices, ms (log; dashed: p95 goal)")
    fig.tight_layout()
    path = out / "bench_queries.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_all(out: Path = RESULTS) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    plots = (plot_calls(out), plot_pipeline(out), plot_store_latency(out), plot_queries(out))
    return [p for p in plots if p is not None]


if __name__ == "__main__":
    for path in plot_all():
        print(f"wrote {path}")
