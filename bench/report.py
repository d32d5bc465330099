"""BENCHMARKS.md from the results of one run."""

from __future__ import annotations

import math
from typing import Any

from bench import reads
from bench.remedies import remedy


def _ms(value: float | None) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:,.1f}"
    )


def _n(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


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
        f" closed); every intake target warmed by {plan.get('warm_seconds', 2):g} s at the"
        f" first rate, unrecorded, then steps of {plan['step_seconds']:g} s at"
        f" {', '.join(str(r) for r in plan['rates'])} commands/s until two in a row are not"
        " sustained",
        "- Broker: the project's own single-node KRaft broker on loopback,"
        f" {results.get('partitions', '?')} partitions per topic, producers with acks=all and"
        " idempotence, every service as its own process",
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
        " data, issuing the worker's receipt (its PIN hashed as the ledger hashes it)"
        " and storing the event with `eventsourcing` on SQLite; and the ledger (command on"
        " Kafka, decided, events on Kafka with acks=all, read model caught up), and the"
        " ledger answering once the decision is durable, for a caller who sends `Prefer:"
        " wait-for=decision` (taizhang_decided).",
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
    inside = [(n, i) for n, d in results["intake"].items() for i in d.get("inside", [])]
    if inside:
        lines += [
            "",
            "Inside the ledger, from the intake API's own log: the time from sending the"
            " command to the decider's reply (the rest of a request is HTTP, token, sealing"
            " and waiting for the read model).",
            "",
            "| target | rate/s | command to reply p50 ms | p99 ms |",
            "|---|---|---|---|",
            *(
                f"| {n} | {i['target_rate']} | {_ms(i['reply_p50_ms'])}"
                f" | {_ms(i['reply_p99_ms'])} |"
                for n, i in inside
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
        f" read models caught up {h['services_caught_up_s']:,.1f} s after the last write"
        + reads.workers(h, "the reads below")
        + ".",
        "Rebuild: each service's read model from offset 0 into a fresh database with the"
        " services' own projector, then the same topics, read committed as the projector"
        " reads them, by a plain aiokafka consumer (the client the projector uses) and a"
        " plain kafka-python consumer: every path of a row reads the same records. Peer:"
        " `eventsourcing` reading its notification log and folding every aggregate in memory"
        " (no read model written).",
        "",
        "| read model | records | taizhang s | raw aiokafka s | raw kafka-python s"
        " | taizhang % of aiokafka |",
        "|---|---|---|---|---|---|",
    ]
    rows = [*r.get("models", {}).items(), ("all read models", {**r, "records": _total(r)})]
    for name, m in rows:
        ours, aio = m["taizhang"]["seconds"], m["raw_aiokafka"]["seconds"]
        kp = m["raw_kafka_python"]["seconds"]
        share = f"{100 * aio / ours:.0f} %" if m["records"] and ours else "–"
        lines.append(
            f"| {name} | {_n(m['records'])} | {ours:.2f} | {aio:.2f} | {kp:.2f} | {share} |"
        )
    if "eventsourcing" in r:
        e = r["eventsourcing"]
        lines += [
            "",
            f"eventsourcing folded {_n(e['records'])} events in {e['seconds']:.2f} s"
            f" ({_n(e['events_per_s'])} events/s).",
        ]
    return lines


def _total(r: dict[str, Any]) -> int:
    return sum(int(m["records"]) for m in r.get("models", {}).values())


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
    """Say, from this run's own figures, where an intake command's time and CPU went."""
    said = []
    spied = results.get("profile", {})
    path = spied.get("path")
    if path:
        said.append(
            f"at {spied['rate_per_s']} commands/s the API waited {_ms(path['reply_p50_ms'])} ms"
            f" (p50) from sending a command to the decider's reply and"
            f" {_ms(path['shown_p50_ms'])} ms more for its read model; the decider's batches"
            f" held {path['commands_per_batch']:g} commands (median), read and checked in"
            f" {_ms(path['batch_read_p50_ms'])} ms, decided and stored in one transaction per"
            f" partition in {_ms(path['batch_store_p50_ms'])} ms, replied in"
            f" {_ms(path['batch_reply_p50_ms'])} ms"
        )
    if path and "step" in spied:
        said.append(_split(spied["step"]["p50_ms"], path))
    used = spied.get("cpu")
    if used:
        total = sum(p["ms_per_command"] for p in used.values())
        woken = [n for n, p in used.items() if p["ms_per_command"] >= 0.5]
        heaviest = ", ".join(f"{n} {p['ms_per_command']:.1f}" for n, p in list(used.items())[:4])
        said.append(
            f"a command cost {total:.1f} ms of CPU across all processes ({heaviest} ms the"
            f" heaviest), {len(woken)} processes each spending 0.5 ms or more on it, on"
            f" {results['machine']['cores']} cores"
        )
    pin = _leaf_share(spied.get("api", {}), "pin_hash (")
    if pin:
        said.append(f"the intake API spent {pin:.0f} % of its samples hashing receipt PINs")
    return ("Measured in this run: " + "; ".join(said) + ".") if said else ""


def _split(total: float, path: dict[str, Any]) -> str:
    """Say how a median request's milliseconds divide between the stages logged."""
    batch = sum(path[f"batch_{lap}_p50_ms"] for lap in ("read", "store", "reply"))
    hops = path["reply_p50_ms"] - batch
    rest = total - path["reply_p50_ms"] - path["shown_p50_ms"]
    return (
        f"of a median request's {_ms(total)} ms, about {_ms(batch)} ms were the decider's batch,"
        f" {_ms(hops)} ms storing the command and the two fetches (decider, reply) around it,"
        f" {_ms(path['shown_p50_ms'])} ms the read model and {_ms(rest)} ms the HTTP side"
        " (connection, token, checks, the receipt's PIN hash, sealing, queueing)"
    )


def _leaf_share(profile: dict[str, Any], frame: str) -> float:
    """Return the share of a process's samples whose innermost frame of ours is `frame`."""
    return float(sum(share for name, share in profile.get("own", []) if name.startswith(frame)))


def _closing(results: dict[str, Any]) -> list[str]:
    missed = [g for g in results["goals"] if not g["met"]]
    lines = ["", "## Closing note", ""]
    met = [g["name"] for g in results["goals"] if g["met"]]
    if met:
        lines.append("Met in this run: " + "; ".join(met) + ".")
        lines.append("")
    for goal in missed:
        lines.append(
            f"- **{goal['name']}**: {goal['measured']} against {goal['target']}"
            + (f" (ratio {goal['ratio']:.2f})" if goal["ratio"] is not None else "")
            + f". {remedy(goal['name'])}"
        )
    evidence = _intake_evidence(results)
    if evidence:
        lines += ["", evidence]
    return lines + _path(results.get("profile"))


def _path(spied: dict[str, Any] | None) -> list[str]:
    """The command path across processes: CPU per command, then each intake process sampled."""
    if not spied or "cpu" not in spied:
        return []
    step = spied["step"]
    lines = [
        "",
        f"### The command path across processes ({spied['seconds']:g} s at"
        f" {spied['rate_per_s']} commands/s: p50 {_ms(step['p50_ms'])} ms, p99"
        f" {_ms(step['p99_ms'])} ms, {step['ok']} / {step['sent']} answered)",
        "",
        "CPU of every process from /proc, its idle rate (measured just before) taken off:",
        "",
        "| process | idle CPU % | CPU % under load | CPU ms per command |",
        "|---|---|---|---|",
        *(
            f"| {name} | {p['idle_cpu_pct']:.1f} | {p['load_cpu_pct']:.1f}"
            f" | {p['ms_per_command']:.2f} |"
            for name, p in spied["cpu"].items()
        ),
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
