"""Scenario 4, one case among N: `taizhang audit replay` of random cases, and in-process."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from typing import Any

from bench.history import EVENTS_PER_CASE, case_id_of
from bench.plan import log
from bench.stack import Stack
from bench.stats import percentile
from services.audit import records as audit
from services.audit import replay as audit_replay
from services.common.settings import ROOT
from services.intake.service import KIND


def one_case(stack: Stack, case_ids: list[str]) -> dict[str, Any]:
    """Time `taizhang audit replay` for random cases, and the same reading done in-process."""
    cli_ms, inproc_ms = [], []
    # How the command found each case's records: through the audit index or by a scan.
    sources: dict[str, int] = {}
    for case_id in case_ids:
        source = audit_replay.find(stack.settings, case_id).source
        sources[source] = sources.get(source, 0) + 1
        began = time.perf_counter()
        done = stack.cli("audit", "replay", case_id, "--format", "json")
        cli_ms.append((time.perf_counter() - began) * 1000)
        if done.returncode != 0 or json.loads(done.stdout)["state"]["status"] != "closed":
            raise RuntimeError(f"audit replay {case_id} failed: {done.stderr[-500:]}")
        began = time.perf_counter()
        events = audit.envelopes(audit.case_records(stack.settings, case_id))
        state = KIND.replay(events)
        inproc_ms.append((time.perf_counter() - began) * 1000)
        if state is None or len(events) != EVENTS_PER_CASE:
            raise RuntimeError(f"{case_id} replayed to {len(events)} events")
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import services.cli.main"], cwd=ROOT, check=True)
    startup_ms = (time.perf_counter() - began) * 1000
    return {
        "cases": len(case_ids),
        "sources": sources,
        "cli_p50_ms": round(percentile(cli_ms, 50), 1),
        "cli_p99_ms": round(percentile(cli_ms, 99), 1),
        "in_process_p50_ms": round(percentile(inproc_ms, 50), 1),
        "in_process_p99_ms": round(percentile(inproc_ms, 99), 1),
        "cli_import_ms": round(startup_ms, 1),
    }


def measure(stack: Stack, total_cases: int, picks: int) -> dict[str, Any]:
    """Replay `picks` cases drawn (with a fixed seed) from the history's `total_cases`."""
    rng = random.Random(8)
    case_ids = [case_id_of(n) for n in rng.sample(range(total_cases), picks)]
    timed = one_case(stack, case_ids)
    log(f"  {timed}")
    return timed
