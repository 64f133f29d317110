"""The summary table `lbbench run` prints: one row per scenario."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def scenario_rows(result: dict[str, Any]) -> Table:
    simulated = any(s.get("simulated") for s in result["scenarios"])
    title = f"lbbench {'sim' if simulated else 'run'} {result['run_id']}"
    if simulated:
        title += " (simulated: the router and strategies in simulated time, no live rig)"
    table = Table(title=title, title_justify="left")
    for header, justify in [
        ("scenario", "left"),
        ("ok req/s", "right"),
        ("p50 ms", "right"),
        ("p99 ms", "right"),
        ("p99.9 ms", "right"),
        ("errors", "right"),
        ("share err", "right"),
        ("Jain", "right"),
        ("detect s", "right"),
        ("recover s", "right"),
        ("valid", "left"),
    ]:
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for scenario in result["scenarios"]:
        summary = scenario["summary"]
        latency = summary["latency_ms"]["corrected"]
        requests = summary["requests"]
        failed = requests["sent"] - requests["ok"]
        faults = summary["failover"]["faults"]
        detect = faults[0]["detection_s"] if faults else None
        recover = faults[0]["recovery_s"] if faults else None
        never = faults and faults[0]["detected_in"] == 0
        detect_text = "never" if never else _seconds(detect)
        table.add_row(
            scenario["name"],
            f"{summary['throughput_rps']:.0f}",
            _ms(latency["p50"]),
            _ms(latency["p99"]),
            _ms(latency["p99.9"]),
            f"{failed} ({100 * failed / max(1, requests['sent']):.1f}%)",
            f"{100 * summary['fairness']['max_share_error']:.1f}%",
            f"{summary['fairness']['jain']:.3f}",
            detect_text,
            _seconds(recover),
            "yes" if scenario["valid"] else "[bold red]NO[/]",
        )
    return table


def problems(result: dict[str, Any]) -> list[str]:
    return [f"{s['name']}: {p}" for s in result["scenarios"] for p in s["problems"]]
