"""Every service's API and the portal fuzzed on one deployment, after the cases are seeded."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from multiprocessing import get_context

import httpx

from contracts.catalog import CASE_TYPES, STREAMS
from services.cli.deployment import Deployment
from services.common.auth import issue_token
from services.common.units import load_units
from services.portal.web import SESSION_COOKIE
from tests.fuzz.draws import Person, Target
from tests.fuzz.forms import form_fields, verbs
from tests.fuzz.harness import Tally, fuzz_service
from tests.fuzz.seed import MEMBERS, Seeded, days_from_today, seed
from tests.integration.polling import eventually

CHAIR = Person("chair-co", "union_chair", "demo/co")
REP = Person("rep-p01", "worker_rep", "demo/co/p01")
MEMBER = Person("m2-p01", "group_member", "demo/co/p01")
MEDIATOR = Person("med-1", "mediator", "demo/co")
OFFICER = Person("fup-1", "followup_officer", "demo/co")
AUDITOR = Person("aud", "auditor", "demo")
ADMIN = Person("admin-1", "admin", "demo")
VOLUNTEER = Person("vol-law-1", "volunteer", "demo/co")
# A rep of another department: the seeded cases are not theirs to see.
STRANGER = Person("rep-p02", "worker_rep", "demo/co/p02")
# Who signs in, round by round: the chair acts on every case of the company; the others
# read, act where their role lets them, or are refused.
SCHEDULES: dict[str, tuple[Person, ...]] = {
    "intake": (CHAIR, AUDITOR, CHAIR, REP, OFFICER, CHAIR, STRANGER, ADMIN),
    "suggestions": (CHAIR, AUDITOR, CHAIR, MEMBER, CHAIR, REP, ADMIN),
    "mediation": (CHAIR, AUDITOR, CHAIR, MEDIATOR, CHAIR, REP, ADMIN),
    "followup": (CHAIR, AUDITOR, OFFICER, CHAIR, REP, ADMIN),
    "audit": (AUDITOR, CHAIR, AUDITOR, ADMIN),
    "portal": (CHAIR, REP, CHAIR, MEDIATOR, OFFICER, MEMBER, AUDITOR, ADMIN),
    "library": (CHAIR, AUDITOR, MEDIATOR, CHAIR, VOLUNTEER, REP, ADMIN),
}
SERVICES = tuple(SCHEDULES)
# The resources whose listings name each service's cases.
RESOURCES = {
    stream.service: [kind.resource for kind in CASE_TYPES.values() if kind.stream == stream.name]
    for stream in STREAMS.values()
    if stream.service in SCHEDULES
}
USERS = (*MEMBERS, "rep-p01", "rep-p02", "med-1", "fup-1", "aud", "pm-p01", "vol-law-1")
# The seed's escalation, resolution, referral to the leadership, agreement and failure.
SEEDED_FOLLOWUPS = 5
# Besides the four disputes applied for, the grievance referred to mediation opens one.
SEEDED_DISPUTES = 5
PAGE = 200
# Services whose answers mostly wait on the broker.
WAITING = ("audit",)


def known_cases(deployment: Deployment, service: str) -> set[str]:
    """The ids of the cases a service holds, as an auditor's listings name them."""
    headers = {"Authorization": f"Bearer {deployment.token(**vars(AUDITOR))}"}
    found: set[str] = set()
    with httpx.Client(base_url=deployment.url(service), headers=headers, timeout=30) as client:
        for resource in RESOURCES.get(service, ()):
            answer = client.get(f"/{resource}", params={"limit": PAGE}).raise_for_status()
            found.update(item["case_id"] for item in answer.json()["items"])
    return found


def _wait_for(deployment: Deployment, service: str, count: int) -> None:
    """Wait until a service holds at least `count` cases."""
    eventually(
        lambda: known_cases(deployment, service),
        until=lambda cases: len(cases) >= count,
        timeout=60,
        what=f"{count} seeded cases in {service}",
    )


def _portal(deployment: Deployment, target: Target) -> Target:
    """The portal: signed in by its session cookie, its errors pages, its forms described."""
    documents = [
        httpx.get(f"{deployment.url(s)}/openapi.json", timeout=30).raise_for_status().json()
        for s in RESOURCES
    ]
    return replace(
        target,
        cookie=SESSION_COOKIE,
        problems=False,
        forms=form_fields(documents),
        verbs=verbs(documents),
    )


def target(deployment: Deployment, service: str) -> Target:
    """The service as the fuzzing sees it, with the cases, units, people and dates it knows."""
    if service in RESOURCES:
        cases = known_cases(deployment, service)
    else:
        cases = set().union(*(known_cases(deployment, s) for s in RESOURCES))
    now = datetime.now(UTC)
    found = Target(
        service=service,
        url=deployment.url(service),
        cases=frozenset(cases),
        units=[unit.id for unit in load_units(deployment.settings.units_file).units],
        users=USERS,
        dates=[days_from_today(d) for d in (-400, -30, -1, 0, 1, 10, 30, 365)],
        moments=[(now - timedelta(hours=h)).isoformat() for h in (1, 24, 24 * 30)],
    )
    return _portal(deployment, found) if service == "portal" else found


@dataclass(frozen=True)
class Job:
    """One service's fuzzing, as a process of its own can be handed it."""

    schedule: tuple[Person, ...]
    budget: int
    token: Callable[..., str]
    boundaries: bool
    seed: int

    def run(self, target: Target) -> Tally:
        """Fuzz the service as it now stands."""
        return fuzz_service(
            target,
            self.schedule,
            self.budget,
            self.token,
            boundaries=self.boundaries,
            seed=self.seed,
        )


def campaign(
    deployment: Deployment,
    budget: int,
    *,
    services: Sequence[str] = SERVICES,
    boundaries: bool = True,
    say: Callable[[str], object] = print,
) -> list[Tally]:
    """Seed the cases, then fuzz each service with at least `budget` requests."""
    began = time.monotonic()
    urls = {name: deployment.url(name) for name in deployment.ports}
    seeded: Seeded = seed(urls, deployment.token)
    # Escalations, resolutions, referrals, agreements and failures act through the workers.
    _wait_for(deployment, "followup", SEEDED_FOLLOWUPS)
    _wait_for(deployment, "mediation", SEEDED_DISPUTES)
    took = time.monotonic() - began
    say(f"seeded {len(seeded.every())} cases in {took:.0f}s; fuzzing {', '.join(services)}")

    token = partial(issue_token, deployment.settings)
    jobs = {
        s: Job(
            SCHEDULES[s],
            budget,
            token,
            # The portal's forms are described here, not by the portal: their boundary values
            # would be hundreds of requests a field, none of them telling anything new.
            boundaries=boundaries and s != "portal",
            seed=SERVICES.index(s),
        )
        for s in services
    }
    done: dict[str, Tally] = {}
    # The audit's answers wait on reading the log rather than on the processor: it is fuzzed
    # beside the others, in a process of its own (the generator is not safe in two threads).
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        beside = {s: pool.submit(jobs[s].run, target(deployment, s)) for s in jobs if s in WAITING}
        for s in (s for s in services if s not in WAITING):
            done[s] = jobs[s].run(target(deployment, s))
            say(summary_line(done[s]))
        for s, future in beside.items():
            done[s] = future.result()
            say(summary_line(done[s]))
    return [done[s] for s in services]


def summary_line(tally: Tally) -> str:
    """One service's counts on one line."""
    share = tally.on_cases / tally.requests if tally.requests else 0.0
    return (
        f"{tally.service:<12} {tally.requests:>7} requests  {tally.server_errors:>3} 5xx"
        f"  {tally.malformed:>3} malformed  {tally.on_cases:>6} on existing cases ({share:.0%})"
        f"  in {tally.seconds:.0f}s"
    )
