"""Reads that stay fast as the log grows: their goals, and their part of the report."""

from __future__ import annotations

import math
from typing import Any

from bench import pages
from bench.stats import Goal, at_least, at_most


def goals(results: dict[str, Any]) -> list[Goal]:
    """Judge one case's reads, verifying the log and the timers' tick against the issue."""
    o = results["one_case"]
    found = []
    if "http_p99_ms" in o:
        found += [
            at_most("one-case history p99 (HTTP)", o["http_p99_ms"], 50, "ms"),
            at_most("one-case state at a moment p99 (HTTP)", o["http_at_p99_ms"], 50, "ms"),
        ]
    found.append(at_most("one-case replay p99 (CLI)", o["cli_p99_ms"], 300, "ms"))
    found += pages.goals(results)
    verify = results.get("verify_all")
    if verify:
        share = 100 * verify["verify_per_s"] / verify["raw_kafka_python_per_s"]
        found.append(at_least("verify --all vs raw consumer", share, 50, "% of raw"))
    ledger = results.get("export")
    if ledger:
        cases = f"{ledger['cases']:,} cases"
        peak = ledger["rss_after_xlsx"]["peak_mb"]
        found += [
            at_most(f"台账 export streamed (csv), {cases}", ledger["csv"]["seconds"], 30, "s"),
            at_most(f"台账 export streamed (xlsx), {cases}", ledger["xlsx"]["seconds"], 30, "s"),
            at_most("audit API peak RSS after the exports", peak, 300, "MB"),
        ]
    timers = results.get("timers")
    if timers:
        cases = f"{timers['open_cases']:,} open cases"
        found += [
            at_most(f"timer tick p99, {cases}", timers["quiet"]["tick_p99_ms"], 100, "ms"),
            at_most(f"timer tick peak RSS, {cases}", timers["peak_mb"], 300, "MB"),
        ]
        if "ticks" in timers["midnight"]:
            midnight = timers["midnight"]["tick_p99_ms"]
            found.append(at_most("timer tick p99 after midnight", midnight, 100, "ms"))
    return found


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.1f}"


def _sources(o: dict[str, Any]) -> str:
    """Say how the replays found their cases' records, as counted in this run."""
    found = o.get("sources", {})
    index, scan = found.get("index", 0), found.get("scan", 0)
    if not index and not scan:
        return ""
    if not scan:
        return f"All {index} cases were found through the audit index."
    if not index:
        return f"None of the {scan} cases was in the audit index: each replay scanned."
    return f"{index} cases were found through the audit index, {scan} by a scan of the partition."


def section(results: dict[str, Any]) -> list[str]:
    """The report's part on one case among N, verifying the log, and the timers."""
    o = results["one_case"]
    lines = [
        "",
        "## 4. One case among N",
        "",
        f"{o.get('http_cases', o['cases'])} random cases of the history, each read through"
        " the audit service's HTTP API (its history as it stands, then as it stood at the"
        f" moment of its second event); the first {o['cases']} of them also through"
        " `taizhang audit replay CASE --format json` as a user runs it (a new process each"
        " time), and by the replay function inside a running process. Every read checks the"
        " case's hash chain, schemas and signatures as verify does.",
        "",
        "| how | p50 ms | p99 ms |",
        "|---|---|---|",
    ]
    for key, label in (
        ("http", "`GET /audit/cases/{id}`"),
        ("http_at", "`GET /audit/cases/{id}?at=…`"),
        ("cli", "`taizhang audit replay`"),
        ("in_process", "in-process (index, read, check, fold)"),
    ):
        if f"{key}_p50_ms" in o:
            lines.append(f"| {label} | {_ms(o[f'{key}_p50_ms'])} | {_ms(o[f'{key}_p99_ms'])} |")
    lines += [
        "",
        f"Starting the command line for a replay takes {_ms(o['cli_import_ms'])} ms."
        f" {_sources(o)}".rstrip(),
    ]
    lines += pages.section(results)
    verify = results.get("verify_all")
    if verify:
        lines += [
            "",
            f"`taizhang audit verify --all` read and checked {verify['records']:,} records in"
            f" {verify['verify_s']:.2f} s ({verify['verify_per_s']:,} records/s, start-up"
            " included); a plain kafka-python consumer read the same topics to their ends in"
            f" {verify['raw_kafka_python_s']:.2f} s ({verify['raw_kafka_python_per_s']:,}/s).",
        ]
    ledger = results.get("export")
    if ledger:
        lines += [
            "",
            f"The 台账 of {ledger['unit']}: {ledger['cases']:,} closed grievances written to the"
            f" events topic as the decider writes them ({ledger['fill_s']:.1f} s), filed by the"
            f" audit index ({ledger['indexed_s']:.1f} s more)"
            + workers(ledger, "the downloads")
            + "; then downloaded from"
            " `GET /audit/export` a piece at a time: csv"
            f" {ledger['csv']['rows']:,} rows in {ledger['csv']['seconds']:.1f} s, xlsx in"
            f" {ledger['xlsx']['seconds']:.1f} s. The audit API's peak resident memory was"
            f" {ledger['rss_before']['peak_mb']:,.1f} MB before,"
            f" {ledger['rss_after_csv']['peak_mb']:,.1f} MB after the csv and"
            f" {ledger['rss_after_xlsx']['peak_mb']:,.1f} MB after the xlsx.",
        ]
    timers = results.get("timers")
    if timers:
        quiet, midnight = timers["quiet"], timers["midnight"]
        lines += [
            "",
            f"Timers, in a process of their own: {timers['open_cases']:,} open cases filed in"
            f" the due-date index in {timers['filed_s']:.1f} s. A tick with {quiet['due']} cases"
            f" due takes {_ms(quiet['tick_p50_ms'])} ms (p50), {_ms(quiet['tick_p99_ms'])} ms"
            f" (p99); the tick after midnight, with a day's {midnight['due']:,} deadlines"
            f" passing at once, {_ms(midnight['tick_p50_ms'])} ms (p50). Peak resident"
            f" memory {timers['peak_mb']:,.1f} MB.",
        ]
        if "ticks" in midnight:
            lines[-1] += (
                f" Each tick looks at {midnight['per_tick']} cases at most: midnight's are"
                f" worked off in {midnight['ticks']} ticks of {_ms(midnight['tick_p99_ms'])} ms"
                f" at most (p99), {_ms(midnight['tick_cpu_p99_ms'])} ms of the process's own CPU;"
                f" a quiet tick spends {_ms(quiet['tick_cpu_p50_ms'])} ms of CPU (p50). Every"
                " head is read from the worker's head store, a bounded number held in memory."
            )
    return lines


def workers(waited: dict[str, Any], after: str) -> str:
    """How long the stream workers took to answer a load, or what they had left when read."""
    if "workers_caught_up_s" not in waited:
        return ""
    left = waited.get("workers_left") or {}
    if not left:
        return (
            f", and the stream workers had answered all of it {waited['workers_caught_up_s']:,.1f}"
            " s after it"
        )
    behind = ", ".join(f"{name} {count:,}" for name, count in sorted(left.items()))
    return (
        f"; the stream workers had not answered all of it {waited['workers_caught_up_s']:,.1f} s"
        f" after it (records left: {behind}), and {after} shared the machine with them"
    )
