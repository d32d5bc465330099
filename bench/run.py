"""`make bench`: start the broker and the services, run every scenario, write the results."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench import (
    append,
    export,
    intake,
    intake_alone,
    memory,
    pages,
    rebuild,
    replay,
    signatures,
    timers,
)
from bench.goals import goals
from bench.history import grievance_cases
from bench.machine import machine
from bench.peers.apps import ledger
from bench.plan import FULL, QUICK, Plan, log
from bench.report import plain, render
from bench.stack import Stack
from services.cli.deployment import own_broker
from services.common.settings import ROOT

HERE = Path(__file__).resolve().parent


async def scenarios(stack: Stack, plan: Plan, scratch: Path) -> dict[str, Any]:
    """Run the five scenarios, in order, against a running stack."""
    results: dict[str, Any] = {"partitions": stack.settings.partitions}
    token = stack.token()
    log("services and peers are up; scenario 1: intake")
    results["loadgen"], results["intake"] = await intake.measure(stack, plan, token)

    log("scenario 2: append")
    sealer = append.history_sealer(stack.settings, scratch)
    sample = list(grievance_cases(plan.append_cases, sealer))
    results["append"] = await append.measure(stack.settings, sample)
    es = ledger(scratch / "history-eventsourcing.sqlite")
    results["history"] = await append.load_history(stack, plan, sealer, sample, es)

    log("scenario 3: rebuild")
    results["rebuild"] = await rebuild.measure(stack.settings, scratch / "rebuild", es)
    es.close()

    log("scenario 4: one case among N")
    results["one_case"] = replay.measure(
        stack, results["history"]["cases"], plan.http_cases, plan.replay_cases
    )
    results["pages"] = pages.measure(stack.settings, stack.url("portal"))
    log(f"  portal pages {results['pages']}")
    results["verify_all"] = replay.verify_all(stack)
    log(f"  {results['verify_all']}")
    log("the unit's ledger, streamed")
    results["export"] = await export.measure(stack, sealer)
    log("timers: a tick over the open cases, in a process of its own")
    results["timers"] = timers.measure(1_000_000 if plan.mode == "full" else 100_000)
    log(f"  {results['timers']}")

    log("scenario 5: memory")
    results["memory"] = memory.measure(stack)

    results["signing"] = signed = signatures.measure()
    log(
        f"signatures: hash {signed['hash_us']:.1f} µs, sign {signed['sign_us']:.1f} µs"
        f" ({signed['sign_vs_hash']:.1f}× hashing), check {signed['verify_us']:.1f} µs"
        f" ({signed['verify_vs_hash']:.1f}× hashing) per event"
    )

    results["goals"] = [g.as_dict() for g in goals(results)]
    log("the command path across processes")
    profiles = HERE / "out" / "profiles"
    sustained = results["intake"]["taizhang"]["sustained_per_s"]
    results["profile"] = await intake.profile_intake(stack, token, plan, profiles, sustained)
    return results


async def run(plan: Plan, only: str | None = None, rate: int | None = None) -> dict[str, Any]:
    """Start the broker, the services and the peers; return what every scenario measured."""
    began = time.perf_counter()
    results: dict[str, Any] = {"plan": plan.__dict__, "machine": machine()}
    scratch = Path(tempfile.mkdtemp(prefix="taizhang-bench-"))
    (HERE / "out" / "profiles").mkdir(parents=True, exist_ok=True)
    try:
        with own_broker(scratch / "kafka", log) as bootstrap, Stack(bootstrap, scratch) as stack:
            stack.broker_pid = int((scratch / "kafka" / "broker.pid").read_text())
            stack.start_all()
            stack.warm_up()
            stack.start_peer("ceiling")
            stack.start_peer("eventsourcing")
            if only == "intake":
                profiles = HERE / "out" / "profiles"
                results |= await intake_alone.measure(stack, plan, profiles, rate)
            else:
                results |= await scenarios(stack, plan, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["seconds"] = round(time.perf_counter() - began, 1)
    return results


def main() -> None:
    """Parse the mode and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="1M events, longer steps")
    parser.add_argument("--events", type=int, help="override the history size")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument("--render", type=Path, help="only rewrite the report from a results file")
    parser.add_argument(
        "--only", choices=["intake"], help="run one part; its results go to bench/out/ only"
    )
    parser.add_argument("--rate", type=int, help="with --only intake: profile at this rate")
    args = parser.parse_args()
    if args.render:
        args.out.write_text(render(json.loads(args.render.read_text())))
        return
    plan = FULL if args.full else QUICK
    if args.events:
        plan = Plan(**{**plan.__dict__, "events": args.events})
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results = runner.run(run(plan, args.only, args.rate))
    if args.only:
        out = HERE / "out" / f"{args.only}.json"
        out.write_text(json.dumps(plain(results), indent=2, ensure_ascii=False) + "\n")
        for line in intake_alone.summary(results):
            log(line)
        return
    args.json.write_text(json.dumps(plain(results), indent=2, ensure_ascii=False) + "\n")
    args.out.write_text(render(results))
    log(f"done in {results['seconds']:.0f}s: {args.out} and {args.json}")


if __name__ == "__main__":
    main()
