"""`make fuzz`: every service's API fuzzed on a deployment of its own; non-zero on any 5xx."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from services.cli.deployment import Deployment, own_broker
from tests.fuzz.campaign import SERVICES, campaign
from tests.fuzz.harness import KEPT, Tally

SECRET = "fuzzing-only-secret-0123456789abc"
# The lines a service's API and the portal log for a request they failed on.
FAILED = re.compile(r'"event": "(request|portal)\.failed"')


def by_operation(tally: Tally) -> list[str]:
    """A service's answers by operation and status."""
    table: dict[str, dict[int, int]] = {}
    for (operation, status), count in tally.operations.items():
        table.setdefault(operation, {})[status] = count
    return [
        f"  {op:<50} " + ", ".join(f"{s}: {n}" for s, n in sorted(table[op].items()))
        for op in sorted(table)
    ]


def report(tallies: list[Tally], operations: bool) -> str:
    """Each service's answers by status, then every request that broke a rule."""
    lines = []
    for tally in tallies:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))
        on_cases = ", ".join(f"{s}: {n}" for s, n in sorted(tally.case_statuses.items()))
        phases = ", ".join(f"{p}: {n}" for p, n in sorted(tally.phases.items()))
        lines.append(f"{tally.service}: {statuses}")
        lines.append(f"{'':>{len(tally.service)}}  by phase: {phases}")
        lines.append(f"{'':>{len(tally.service)}}  on existing cases: {on_cases}")
        lines.extend(by_operation(tally) if operations else [])
        lines.extend(f"  {finding}" for finding in tally.findings)
        lines.extend(f"  the generator failed: {error}" for error in tally.errors)
    return "\n".join(lines)


def failure_log(deployment: Deployment, tallies: list[Tally]) -> str:
    """What the services logged of the requests they failed on: where each error arose."""
    lines: list[str] = []
    for tally in tallies:
        if tally.server_errors:
            log = deployment.log_file(tally.service, "api").read_text(errors="replace")
            failed = [line for line in log.splitlines() if FAILED.search(line)]
            lines.extend(f"{tally.service} logged: {line}" for line in failed[:KEPT])
    return "".join(f"{line}\n" for line in lines)


def main() -> int:
    """Start a broker and the services, fuzz them, print the counts; 1 if any rule broke."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000, help="at least this many each")
    parser.add_argument("--services", nargs="*", default=list(SERVICES), choices=SERVICES)
    parser.add_argument("--by-operation", action="store_true", help="answers per operation")
    args = parser.parse_args()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="taizhang-fuzz-") as root:
        home = Path(root)
        with own_broker(home / "kafka", print) as bootstrap:
            deployment = Deployment(bootstrap, home / "stack", label="fuzz", secret=SECRET)
            # Every request is the point: no client may be turned away for sending too many.
            deployment.env["TAIZHANG_RATE_LIMIT_PER_MINUTE"] = str(10**9)
            with deployment:
                deployment.start_all()
                tallies = campaign(deployment, args.requests, services=args.services)
                failures = failure_log(deployment, tallies)
    print(report(tallies, args.by_operation))
    print(failures, end="")
    failed = [t.service for t in tallies if t.failed]
    took = time.monotonic() - began
    print(f"fuzzed {sum(t.requests for t in tallies)} requests in {took:.0f}s;", end=" ")
    print(f"rules broken by {', '.join(failed)}" if failed else "no rule broken")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
