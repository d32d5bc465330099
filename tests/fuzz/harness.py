"""One service's API fuzzed from the OpenAPI document it publishes, on the cases that exist.

Each round signs in as one person and lets the generator run its phases (boundary values,
random requests, chains of calls that follow the case ids the answers name), drawing from
what `draws` says. Every answer is checked here: no status of 500 or more, and every error
a problem+json document.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from schemathesis.core.transport import Response
from schemathesis.engine import from_schema
from schemathesis.engine.events import EngineFinished, FatalError, NonFatalError
from schemathesis.generation.case import Case

from tests.fuzz.draws import Person, Round, Target, config
from tests.fuzz.forms import with_forms

PROBLEM = "application/problem+json"
SHOWN = 400  # characters of a request's or an answer's body kept in a finding
KEPT = 25  # findings kept; the rest are only counted
MAX_ROUNDS = 60


@dataclass(frozen=True)
class Finding:
    """A request whose answer breaks a rule, as sent and as answered."""

    rule: str
    method: str
    url: str
    body: str
    status: int
    content_type: str
    answer: str

    def __str__(self) -> str:
        return (
            f"{self.rule}: {self.method} {self.url} body={self.body or '-'}"
            f" -> {self.status} [{self.content_type}] {self.answer}"
        )


@dataclass
class Tally:
    """What one service's fuzzing sent and what came back."""

    service: str
    requests: int = 0
    on_cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    case_statuses: Counter[int] = field(default_factory=Counter)
    # Answers by operation ("POST /grievances/{case_id}/close") and status.
    operations: Counter[tuple[str, int]] = field(default_factory=Counter)
    # Requests by the generator's phase: boundary values, random ones, chains of calls.
    phases: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    malformed: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Whether any answer broke a rule, or the generator itself failed."""
        return bool(self.server_errors or self.malformed or self.errors)


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}…"


def problem_fault(response: Response) -> str | None:
    """Why an error answer is not a problem+json document, or None when it is one."""
    kind = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    if kind != PROBLEM:
        return f"an error answered as {kind or 'nothing'}, not {PROBLEM}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "a problem+json answer that is not JSON"
    if not isinstance(body, dict) or body.get("status") != response.status_code:
        return "a problem document whose status is not the answer's"
    if not isinstance(body.get("title"), str) or not isinstance(body.get("detail"), str):
        return "a problem document without a title and a detail"
    return None


class Watch:
    """Looks at every answer of a round, and stops the round once it has sent its share."""

    def __init__(self, tally: Tally, cases: set[str], quota: int, problems: bool) -> None:
        self.tally, self.cases, self.quota, self.problems = tally, cases, quota, problems
        self.sent = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def after_call(self, _context: Any, case: Case[Any], response: Response) -> None:
        """Count the answer, learn the case it opened, and keep it if it breaks a rule."""
        with self.lock:
            self._look(case, response)

    def _look(self, case: Case[Any], response: Response) -> None:
        tally, status = self.tally, response.status_code
        tally.requests += 1
        tally.statuses[status] += 1
        tally.operations[(case.operation.label, status)] += 1
        tally.phases[case.meta.phase.name.value if case.meta else "other"] += 1
        self.sent += 1
        if self.sent >= self.quota:
            self.stop.set()
        named = case.path_parameters.get("case_id")
        if isinstance(named, str) and named in self.cases:
            tally.on_cases += 1
            tally.case_statuses[status] += 1
        location = response.headers.get("location")
        if status == 201 and location:
            self.cases.add(location[0].rsplit("/", 1)[-1])
        rule = None
        if status >= 500:
            tally.server_errors += 1
            rule = "server error"
        elif status >= 400 and self.problems:
            rule = problem_fault(response)
            tally.malformed += rule is not None
        if rule is not None and len(tally.findings) < KEPT:
            request = response.request
            tally.findings.append(
                Finding(
                    rule=rule,
                    method=str(request.method),
                    url=str(request.url),
                    body=_text(request.body if isinstance(request.body, bytes | str) else None),
                    status=status,
                    content_type=(response.headers.get("content-type") or [""])[0],
                    answer=_text(response.content),
                )
            )


def operations(document: dict[str, Any]) -> int:
    """Count the operations an OpenAPI document describes."""
    return sum(len(methods) for methods in document.get("paths", {}).values())


def fuzz_round(target: Target, round_: Round, token: str, tally: Tally, cases: set[str]) -> None:
    """Run the generator as one person until it is done or has sent its share of requests."""
    document = httpx.get(f"{target.url}/openapi.json", timeout=30).raise_for_status().json()
    if target.forms:
        document = with_forms(document, target.forms)
    # Sized so that the round's phases all fit in its share: each example costs about one
    # request per operation, and a couple more in the chains of calls after them (measured).
    per_example = operations(document) + 2
    max_examples = 2 if round_.boundaries else max(2, round_.requests // per_example)
    settings = config(target, round_, token, cases, max_examples)
    schema = schemathesis.openapi.from_dict(document, config=settings)
    # The round may run past its estimate; it is cut at half as much again.
    watch = Watch(tally, cases, round_.requests * 3 // 2, target.problems)
    schema.hooks.register_hook_with_name(watch.after_call, "after_call")
    stream = from_schema(schema).execute()
    for event in stream:
        if watch.stop.is_set():
            stream.stop()
        if isinstance(event, FatalError):
            tally.errors.append(f"{round_.person.role}: {event.exception!r}")
        elif isinstance(event, NonFatalError):
            tally.errors.append(f"{round_.person.role} {event.label}: {event.value!r}")
        elif isinstance(event, EngineFinished):
            break


def fuzz_service(
    target: Target,
    schedule: Sequence[Person],
    budget: int,
    token: Callable[..., str],
    *,
    boundaries: bool,
    seed: int = 0,
) -> Tally:
    """Fuzz a service with at least `budget` requests, signing in by turns as the schedule says.

    With `boundaries`, a first round as the schedule's first person sends the boundary values
    of every parameter (several hundred requests); the rounds after it share the rest.
    """
    began = time.monotonic()
    tally = Tally(target.service)
    cases = set(target.cases)
    if boundaries:
        first = Round(schedule[0], budget, seed=seed * 1000, boundaries=True)
        fuzz_round(target, first, token(**vars(schedule[0])), tally, cases)
    turn = 0
    # A round may send less than its share; the bound stops a service that accepts nothing
    # generated from taking rounds for ever.
    while tally.requests < budget and turn < MAX_ROUNDS:
        person = schedule[turn % len(schedule)]
        rounds_left = max(1, len(schedule) - turn)
        share = max(1, (budget - tally.requests) // rounds_left)
        round_ = Round(person, share, seed=seed * 1000 + turn + 1)
        fuzz_round(target, round_, token(**vars(person)), tally, cases)
        turn += 1
    tally.seconds = time.monotonic() - began
    return tally
