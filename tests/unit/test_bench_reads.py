"""The reads' goals and report: one case over HTTP and the command line, verify, the timers."""

from __future__ import annotations

from typing import Any

from bench import reads


def measured() -> dict[str, Any]:
    return {
        "one_case": {
            "http_cases": 400,
            "cases": 20,
            "http_p50_ms": 12.0,
            "http_p99_ms": 30.0,
            "http_at_p50_ms": 13.0,
            "http_at_p99_ms": 60.0,
            "cli_p50_ms": 250.0,
            "cli_p99_ms": 290.0,
            "in_process_p50_ms": 8.0,
            "in_process_p99_ms": 15.0,
            "cli_import_ms": 200.0,
        },
        "verify_all": {
            "records": 20_000,
            "verify_s": 10.0,
            "verify_per_s": 2_000,
            "raw_kafka_python_s": 2.0,
            "raw_kafka_python_per_s": 10_000,
        },
        "timers": {
            "open_cases": 1_000_000,
            "filed_s": 80.0,
            "quiet": {"due": 100, "commands": 100, "tick_p50_ms": 20.0, "tick_p99_ms": 40.0},
            "midnight": {"due": 2740, "commands": 2740, "tick_p50_ms": 600.0, "tick_p99_ms": 900.0},
            "peak_mb": 94.0,
            "now_mb": 90.0,
        },
    }


def test_every_read_is_judged_against_the_issue() -> None:
    verdicts = {g.name: g for g in reads.goals(measured())}
    assert verdicts["one-case history p99 (HTTP)"].met
    assert not verdicts["one-case state at a moment p99 (HTTP)"].met
    assert verdicts["one-case replay p99 (CLI)"].met
    assert verdicts["verify --all vs raw consumer"].measured == "20 % of raw"
    assert not verdicts["verify --all vs raw consumer"].met
    assert verdicts["timer tick p99, 1,000,000 open cases"].met
    assert verdicts["timer tick peak RSS, 1,000,000 open cases"].met


def test_a_run_without_the_newer_reads_is_judged_on_the_command_line_alone() -> None:
    older = {"one_case": {"cli_p99_ms": 700.0}}
    assert [g.name for g in reads.goals(older)] == ["one-case replay p99 (CLI)"]


def test_the_report_shows_each_way_of_reading_verify_and_the_ticks() -> None:
    text = "\n".join(reads.section(measured()))
    assert "| `GET /audit/cases/{id}?at=…` | 13.0 | 60.0 |" in text
    assert "| `taizhang audit replay` | 250.0 | 290.0 |" in text
    assert text.count("400 random cases") == 1 and "the first 20 of them also through" in text
    assert "20,000 records in 10.00 s (2,000 records/s" in text
    assert "A tick with 100 cases due takes 20.0 ms (p50), 40.0 ms (p99)" in text
    assert "a day's 2,740 deadlines" in text and "94.0 MB" in text
