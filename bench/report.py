"""BENCHMARKS.md from the results of one run."""

from __future__ import annotations

import math
from typing import Any

from bench import reads

# What would close each goal when it is missed: read from the profiles of this harness.
REMEDIES: dict[str, str] = {
    "intake sustained": (
        "The decider already decides in batches (one append wait for up to 200 commands),"
        " and both intake processes sit mostly idle at the rates that miss: the limit is"
        " latency, not capacity. A command crosses the broker four times in sequence"
        " (command in, events out with acks=all, reply out, read model caught up), each a"
        " produce acknowledgement or a consumer fetch, so p99 passes 50 ms long before the"
        " cores are busy; every logged grievance also wakes the follow-up, statistics and"
        " audit consumers on the same two cores. Answering from the decider's reply without"
        " waiting for the read model, a shorter batching window, and keeping those other"
        " consumers off the intake machine are the next steps."
    ),
    "intake ahead": (
        "eventsourcing + SQLite commits in-process with no network hop; the ledger pays for"
        " durability on the broker. Closing the gap is the same work as for the intake"
        " goal: fewer sequential broker crossings per command."
    ),
    "append": (
        "The decider appends a whole batch of commands per wait; if this misses, the batch"
        " is too small for the load (TAIZHANG_DECIDE_BATCH) or the producer's linger too"
        " short to fill its requests."
    ),
    "rebuild": (
        "The projector parses each envelope with pydantic, re-checks its hash, validates"
        " the payload, folds the state and writes SQLite rows one event at a time. Caching"
        " the state of hot cases between events of a batch (instead of reading and"
        " re-validating the row), executemany for the inserts, and a larger fetch batch"
        " are the first steps."
    ),
    "one-case": (
        "A read borrows a connected reader and seeks to the case's places from the audit"
        " index; what is left is the fetch of each place's batch, the signature checks and,"
        " for the command line, Python's start-up: importing every stream's contracts and"
        " the Kafka clients. Keeping each event's record in the index would answer without"
        " the broker; loading only the case's own stream's contracts would shorten start-up."
    ),
    "verify --all": (
        "Each event costs a JSON parse, two pydantic validations, a canonical re-hash and an"
        " Ed25519 check (about 70 µs alone), where the raw consumer only decodes: checking"
        " signatures in a second process, beside the reader, is the next step."
    ),
    "timer tick": (
        "A tick reads the cases due from the due-date index and validates each head it"
        " sweeps; its cost follows the cases due, not the cases open."
    ),
    "peak RSS": (
        "The read model and the faust worker keep state in memory; bounded caches and"
        " streaming queries keep the peak flat."
    ),
}


def _ms(value: float | None) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:,.1f}"
    )


def _n(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def remedy(name: str) -> str:
    """Return what would close a missed goal, by the start of its name."""
    return next((text for key, text in REMEDIES.items() if name.startswith(key)), "")


def render(results: dict[str, Any]) -> str:
    """Render the report of one run."""
    m = results["machine"]
    plan = results["plan"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (quick) or `make bench FULL=1` (1M events): every figure"
        " below comes from one run on one machine, the peers measured side by side with the"
        " ledger, so read the ratios more than the absolute numbers.",
        "",
        "## Machine and settings",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB;"
        f" load average at start {', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}",
        f"- OS: {m['os']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- Mode: {plan['mode']}; history of {results['history']['events']:,} events"
        f" ({results['history']['cases']:,} grievances: logged, acknowledged, resolved,"
        f" closed); intake steps of {plan['step_seconds']:g} s at"
        f" {', '.join(str(r) for r in plan['rates'])} commands/s until two in a row are not"
        " sustained",
        "- Broker: the project's own single-node KRaft broker on loopback, 6 partitions per"
        " topic, producers with acks=all and idempotence, every service as its own process",
        f"- Whole run: {results['seconds']:,.0f} s",
        "",
        "## Goals",
        "",
        "| goal | target | measured | ratio | verdict |",
        "|---|---|---|---|---|",
    ]
    for goal in results["goals"]:
        ratio = f"{goal['ratio']:.2f}" if goal["ratio"] is not None else "–"
        verdict = "met" if goal["met"] else "**missed**"
        lines.append(
            f"| {goal['name']} | {goal['target']} | {goal['measured']} | {ratio} | {verdict} |"
        )
    lines += _intake(results) + _append(results) + _rebuild(results)
    lines += reads.section(results) + _memory(results) + _signing(results) + _closing(results)
    return "\n".join(lines) + "\n"


def _intake(results: dict[str, Any]) -> list[str]:
    gen = results["loadgen"]
    lines = [
        "",
        "## 1. Intake: throughput and latency",
        "",
        "`POST /grievances` with a named complainant, at a constant arrival rate; latency runs"
        " from each request's scheduled send time, so queueing in the client counts. The"
        " same load generator and payload for: the FastAPI endpoint with token, unit and"
        " body validation only (the HTTP ceiling); the same endpoint sealing the personal"
        " data and storing the event with `eventsourcing` on SQLite; and the ledger"
        " (command on Kafka, decided, events on Kafka with acks=all, read model caught up).",
        "",
        f"Load generator check against the ceiling, 32 connections back to back:"
        f" raw HTTP/1.1 client {_n(gen['raw_http11_per_s'])}/s, httpx {_n(gen['httpx_per_s'])}/s"
        " (the harness uses the raw client).",
        "",
        "| target | highest sustained (p99 < 50 ms) |",
        "|---|---|",
    ]
    for name, data in results["intake"].items():
        lines.append(f"| {name} | {_n(data['sustained_per_s'])} commands/s |")
    lines += [
        "",
        "| target | rate/s | achieved/s | p50 ms | p99 ms | p99.9 ms | ok / sent | sustained |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, data in results["intake"].items():
        for s in data["steps"]:
            lines.append(
                f"| {name} | {s['target_rate']} | {_n(s['achieved_rate'])} | {_ms(s['p50_ms'])}"
                f" | {_ms(s['p99_ms'])} | {_ms(s['p999_ms'])} | {s['ok']} / {s['sent']}"
                f" | {'yes' if s['sustained'] else 'no'} |"
            )
    inside = [i for d in results["intake"].values() for i in d.get("inside", [])]
    if inside:
        lines += [
            "",
            "Inside the ledger, from the intake API's own log: the time from sending the"
            " command to the decider's reply (the rest of a request is HTTP, token, sealing"
            " and waiting for the read model).",
            "",
            "| rate/s | command to reply p50 ms | p99 ms |",
            "|---|---|---|",
            *(
                f"| {i['target_rate']} | {_ms(i['reply_p50_ms'])} | {_ms(i['reply_p99_ms'])} |"
                for i in inside
            ),
        ]
    return lines


def _append(results: dict[str, Any]) -> list[str]:
    a = results["append"]
    return [
        "",
        "## 2. Append ceiling",
        "",
        "The same events (same bytes, same headers, acks=all, idempotent): appended by the"
        " decider's own `append`, a batch of commands per wait as the decider does, and by a plain"
        " aiokafka producer with every send in flight.",
        "",
        "| path | events | seconds | events/s |",
        "|---|---|---|---|",
        *(
            f"| {name} | {_n(d['events'])} | {d['seconds']:.2f} | {_n(d['events_per_s'])} |"
            for name, d in a.items()
        ),
    ]


def _signing(results: dict[str, Any]) -> list[str]:
    s = results.get("signing")
    if not s:
        return []
    return [
        "",
        "## Signatures",
        "",
        f"What each event's Ed25519 signature costs, over {_n(s['events'])} events of one"
        " process, beside the SHA-256 of its canonical JSON that every writer and reader"
        " already computes: the decider signs each event it appends; every read model,"
        " reactor and the audit check it before they believe it.",
        "",
        "| per event | µs | × hashing |",
        "|---|---|---|",
        f"| hash alone | {s['hash_us']:.1f} | 1.00 |",
        f"| sign | {s['sign_us']:.1f} | {s['sign_vs_hash']:.2f} |",
        f"| check | {s['verify_us']:.1f} | {s['verify_vs_hash']:.2f} |",
    ]


def _rebuild(results: dict[str, Any]) -> list[str]:
    r = results["rebuild"]
    h = results["history"]
    lines = [
        "",
        "## 3. Replay and rebuild",
        "",
        f"The history was written in {h['load_seconds']:,.1f} s; the running services'"
        f" read models caught up {h['services_caught_up_s']:,.1f} s after the last write.",
        "Rebuild: every service's read model from offset 0 into a fresh database with the"
        " services' own projector. Ceiling: a plain kafka-python consumer reading the same"
        " topics (the goal's yardstick), and a plain aiokafka consumer, the client the"
        " projector itself reads with. Peer: `eventsourcing` reading its notification log"
        " and folding every aggregate in memory (no read model written).",
        "",
        "| path | records | seconds | events/s |",
        "|---|---|---|---|",
    ]
    for name, model in r["taizhang"]["models"].items():
        lines.append(
            f"| taizhang: {name} read model | {_n(model['records'])} | {model['seconds']:.2f}"
            f" | {_n(model['events_per_s'])} |"
        )
    for name in ("taizhang", "raw_kafka_python", "raw_aiokafka", "eventsourcing"):
        if name not in r:
            continue
        d = r[name]
        label = "taizhang: all read models" if name == "taizhang" else name
        lines.append(
            f"| {label} | {_n(d['records'])} | {d['seconds']:.2f} | {_n(d['events_per_s'])} |"
        )
    return lines


def _memory(results: dict[str, Any]) -> list[str]:
    return [
        "",
        "## 5. Memory",
        "",
        f"Peak resident memory (VmHWM) of each process after the whole run, the history of"
        f" {results['history']['events']:,} events included.",
        "",
        "| process | peak MB | now MB |",
        "|---|---|---|",
        *(
            f"| {name} | {d['peak_mb']:,.1f} | {d['now_mb']:,.1f} |"
            for name, d in results["memory"].items()
        ),
    ]


def _intake_evidence(results: dict[str, Any]) -> str:
    """Say, from this run's own figures, where an intake command's time went."""
    said = []
    inside = results["intake"].get("taizhang", {}).get("inside", [])
    if inside:
        first = inside[0]
        said.append(
            f"at {first['target_rate']} commands/s the decider answered a command in"
            f" {_ms(first['reply_p50_ms'])} ms (p50), {_ms(first['reply_p99_ms'])} ms (p99)"
        )
    spied = results.get("profile", {})
    if "worker" in spied:
        w = spied["worker"]
        said.append(
            f"under {spied['rate_per_s']} commands/s the decider process was waiting in"
            f" {w['waiting_pct']:.0f} % of its samples and in our own decision code in"
            f" {w.get('own_pct', 0):.0f} %, the rest in the faust and aiokafka clients: the"
            " serial round trips to the broker, not the rules, set the pace"
        )
    return ("Measured in this run: " + "; ".join(said) + ".") if said else ""


def _closing(results: dict[str, Any]) -> list[str]:
    missed = [g for g in results["goals"] if not g["met"]]
    lines = ["", "## Closing note", ""]
    if not missed:
        return [*lines, "Every goal is met on this run."]
    for goal in missed:
        lines.append(
            f"- **{goal['name']}**: {goal['measured']} against {goal['target']}"
            + (f" (ratio {goal['ratio']:.2f})" if goal["ratio"] is not None else "")
            + f". {remedy(goal['name'])}"
        )
        if goal["name"].startswith("intake sustained") and _intake_evidence(results):
            lines.append(f"  {_intake_evidence(results)}")
    rebuild = results["rebuild"]
    if "raw_aiokafka" in rebuild:
        share = 100 * rebuild["taizhang"]["events_per_s"] / rebuild["raw_aiokafka"]["events_per_s"]
        lines.append(
            f"- **rebuild against a plain aiokafka consumer** (the client the projector reads"
            f" with, decoding in C): {share:.0f} % of its rate. The kafka-python yardstick of the"
            f" goal decodes in Python and is itself slow, so this is the ratio that shows the"
            f" projector's own cost. {remedy('rebuild')}"
        )
    spied = results.get("profile")
    if spied and "api" in spied:
        lines += [
            "",
            f"### Where the intake time goes (py-spy, {spied['seconds']:g} s at"
            f" {spied['rate_per_s']} commands/s)",
        ]
        for part in ("api", "worker"):
            if part not in spied:
                continue
            p = spied[part]
            lines += [
                "",
                f"intake {part}, {p['samples']:,} samples: {p['waiting_pct']:.0f} % waiting"
                " (event loop, idle threads), "
                f"{p.get('own_pct', 0):.0f} % inside our own handling; where each sample was in"
                " our code (innermost frame of ours) and the heaviest leaf frames:",
                "",
                "| our code | share | leaf | share |",
                "|---|---|---|---|",
            ]
            own, leaf = p["own"], p["leaf"]
            for i in range(max(len(own), len(leaf))):
                o = own[i] if i < len(own) else ("", math.nan)
                f = leaf[i] if i < len(leaf) else ("", math.nan)
                lines.append(f"| `{o[0]}` | {_ms(o[1])} % | `{f[0]}` | {_ms(f[1])} % |")
    return lines


def plain(value: Any) -> Any:
    """Replace NaN (a step with no answer) by null, so results.json is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
