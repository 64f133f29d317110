"""One self-contained HTML report (plots embedded as PNG) from result sets."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from lbbench.errors import LbbenchError
from lbbench.results.metrics import columns
from lbbench.results.recorder import decode

MAX_BARS = 40  # more backends than this are drawn as a curve, not one bar each
# Percentiles for latency curves, spaced for the classic 1/(1-q) axis.
_CURVE = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999]
_EVENT_STYLE = {
    "eject": ("x", "tab:red"),
    "down": ("v", "tab:red"),
    "open": ("s", "tab:red"),
    "leave": ("<", "tab:red"),
    "uneject": ("o", "tab:green"),
    "up": ("^", "tab:green"),
    "half_open": ("D", "tab:orange"),
    "closed": ("s", "tab:green"),
    "panic": ("*", "tab:purple"),
    "calm": ("*", "tab:gray"),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _scenarios(sets: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    many = len(sets) > 1
    out = []
    for name, data in sets:
        for scenario in data["scenarios"]:
            label = scenario.get("name", scenario["key"])
            out.append((f"{label} [{Path(name).stem}]" if many else label, scenario))
    return out


def latency_curves(scenarios: list[tuple[str, dict[str, Any]]]):
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(10, 6))
    for label, scenario in scenarios:
        histogram = decode(scenario["summary"]["histograms"]["corrected"])
        if histogram.get_total_count() == 0:
            continue
        xs = [1 / (1 - q / 100) for q in _CURVE]
        ys = [max(histogram.get_value_at_percentile(q), 1) / 1e3 for q in _CURVE]
        axis.plot(xs, ys, marker=".", label=label)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xticks([1 / (1 - q / 100) for q in (0, 90, 99, 99.9, 99.99, 99.999)])
    axis.set_xticklabels(["0", "90", "99", "99.9", "99.99", "99.999"])
    axis.set_xlabel("percentile")
    axis.set_ylabel("latency from intended send (ms, log)")
    axis.set_title("Latency by percentile (corrected, HdrHistogram)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=7)
    return figure


def shares(scenarios: list[tuple[str, dict[str, Any]]]):
    plt = _pyplot()
    count = len(scenarios)
    columns = min(3, count)
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.2 * rows), squeeze=False)
    for index, (label, scenario) in enumerate(scenarios):
        axis = axes[index // columns][index % columns]
        backends = scenario["summary"]["backends"]
        if len(backends) > MAX_BARS:
            _share_ratios(axis, label, backends)
            continue
        names = [b["id"] for b in backends]
        positions = range(len(names))
        axis.bar([p - 0.2 for p in positions], [b["share"] for b in backends], 0.4, label="share")
        axis.bar(
            [p + 0.2 for p in positions],
            [b["expected_share"] for b in backends],
            0.4,
            label="expected",
            alpha=0.6,
        )
        axis.set_xticks(list(positions))
        axis.set_xticklabels(names, fontsize=7, rotation=90 if len(names) > 8 else 0)
        axis.set_title(label, fontsize=8)
        axis.set_ylim(0, 1)
    for index in range(count, rows * columns):
        axes[index // columns][index % columns].axis("off")
    axes[0][0].legend(fontsize=7)
    figure.suptitle("Share of attempts per backend against the fair share")
    figure.tight_layout()
    return figure


def _share_ratios(axis, label: str, backends: list[dict[str, Any]]) -> None:
    """A fleet too big for bars: each backend's share over its fair share, sorted."""
    ratios = sorted(
        (b["share"] / b["expected_share"] for b in backends if b["expected_share"] > 0),
        reverse=True,
    )
    axis.plot(range(len(ratios)), ratios, label="share / expected")
    axis.axhline(1.0, color="tab:orange", alpha=0.6, label="fair")
    axis.set_xlabel(f"backends by share ({len(backends)})", fontsize=7)
    axis.set_ylabel("share / expected", fontsize=7)
    axis.set_title(label, fontsize=8)


def timeline(label: str, scenario: dict[str, Any]):
    """Throughput and errors over time (first trial), fault windows shaded, health events."""
    plt = _pyplot()
    trial = scenario["trials"][0]
    step = trial["timeline"]["step_s"]
    rows = trial["timeline"]["outcomes"]
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    times = [r[0] for r in rows]
    top.plot(times, [r[1] / step for r in rows], label="ok/s")
    top.plot(times, [sum(r[2:]) / step for r in rows], label="not ok/s", color="tab:red")
    for fault in scenario.get("faults", []):
        # A fault without a duration lasts until the end of the run.
        end = fault["at_s"] + fault["duration_s"] if fault["duration_s"] else max(times or [0])
        for axis in (top, bottom):
            axis.axvspan(fault["at_s"], end, color="orange", alpha=0.2)
    top.set_ylabel("requests/s (by intended send)")
    top.set_title(f"{label}: throughput, errors and failover events (trial 1)")
    top.legend(fontsize=7)
    backends = [b["id"] for b in scenario["summary"]["backends"]]
    if len(backends) > MAX_BARS:  # a big fleet: only the backends something happened to
        touched = {e["backend"] for e in trial["events"] if e["kind"] != "join"}
        touched |= {f["target"] for f in scenario.get("faults", [])}
        backends = [b for b in backends if b in touched]
    for event in trial["events"]:
        if event["backend"] in backends:
            marker, color = _EVENT_STYLE.get(event["kind"], ("o", "black"))
            bottom.scatter(
                event["at"], backends.index(event["backend"]), marker=marker, color=color, zorder=3
            )
            bottom.annotate(
                event["kind"], (event["at"], backends.index(event["backend"])), fontsize=6
            )
    bottom.set_yticks(range(len(backends)))
    bottom.set_yticklabels(backends, fontsize=7)
    bottom.set_xlabel("seconds since load start (shaded: fault)")
    figure.tight_layout()
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    _pyplot().close(figure)
    return buffer.getvalue()


def figures(sets: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, bytes]]:
    scenarios = _scenarios(sets)
    out = [
        ("latency-percentiles", _png(latency_curves(scenarios))),
        ("shares", _png(shares(scenarios))),
    ]
    for index, (label, scenario) in enumerate(scenarios):
        first = scenario["trials"][:1]
        if any(t.get("lean") for t in first):
            continue  # a sweep's lean trials keep no timelines to draw
        if scenario.get("faults") or any(t["events"] for t in first):
            out.append((f"timeline-{index + 1}", _png(timeline(label, scenario))))
    return out


def _summary_table(sets: list[tuple[str, dict[str, Any]]]) -> str:
    shown = columns()
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["scenario", *(m.column for m in shown)])
    rows = []
    for label, scenario in _scenarios(sets):
        valid = "yes" if scenario["valid"] else "NO: " + "; ".join(scenario["problems"])
        summary = scenario["summary"]
        cells = [label, *(m.show(summary) for m in shown if m.show), valid]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}<th>valid</th></tr>{''.join(rows)}</table>"


def write_report(
    sets: list[tuple[str, dict[str, Any]]], out: str | Path, png_dir: str | Path | None = None
) -> Path:
    """Render the report to ``out``; with ``png_dir`` also write each figure as a PNG file."""
    images = figures(sets)
    if png_dir is not None:
        folder = Path(png_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in images:
            (folder / f"{name}.png").write_bytes(data)
    path = Path(out)
    try:
        path.write_text(render_report(sets, images), encoding="utf-8")
    except OSError as error:
        raise LbbenchError(str(path), f"cannot write the report: {error.strerror}") from None
    return path


def render_report(
    sets: list[tuple[str, dict[str, Any]]], images: list[tuple[str, bytes]] | None = None
) -> str:
    """The report as one self-contained HTML page (figures inline as PNG)."""
    images = figures(sets) if images is None else images
    sources = "".join(
        "<li>"
        + html.escape(
            f"{name}: {data['run_id']}, {data['created_utc']}, "
            f"Python {data['environment'].get('python')}, "
            f"{data['environment'].get('cpu_count')} CPUs, "
            f"commit {data['environment'].get('git_commit')}"
        )
        + "</li>"
        for name, data in sets
    )
    body = "".join(
        f'<h2>{html.escape(name)}</h2><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        for name, data in images
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>lbbench report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child{text-align:left}img{max-width:100%}</style></head><body>"
        f"<h1>lbbench report</h1><ul>{sources}</ul>{_summary_table(sets)}{body}</body></html>"
    )
