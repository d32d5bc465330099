"""Verdicts over the log: one case's or every case's, held against the newest signed checkpoint."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from contracts.catalog import AUDIT_TREE_HEADS, service_of
from contracts.envelope import Envelope, now_utc
from services.audit import checkpoint, treecheck, treeheads
from services.audit.index import CaseIndex, index_path
from services.audit.meter import QUIET, Meter
from services.audit.records import (
    LogRecord,
    Position,
    end_offsets,
    event_partitions,
    read_partitions,
    reading,
)
from services.audit.replay import case_history
from services.audit.verification import Admit, Finding, Verdict, check_checkpoint, verify
from services.common.kafka import STREAMS
from services.common.keys import audit_key, believed_keys
from services.common.settings import Settings
from services.common.signing import (
    CheckpointUnusable,
    Coverage,
    KeyRing,
    admit,
    open_checkpoint,
    unsigned,
)

# How many records a meter hears about at a time while the whole log is verified.
STEP = 1000


class LogHasFindings(Exception):
    """The log has findings, so no checkpoint is signed over it."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"the log has {len(verdict.findings)} finding(s)")
        self.verdict = verdict


@dataclass
class Report:
    """A verdict, and what it relied on: the newest signed checkpoint and the service keys."""

    verdict: Verdict
    # Where the newest signed checkpoint lies; None if none was ever signed.
    newest: Position | None = None
    # That checkpoint, when its signature holds.
    held: checkpoint.Checkpoint | None = None
    # Whether the signature was checked against this machine's copy of the audit key.
    pinned: bool = False
    # The service keys believed, and those that events verified under.
    believed: list[str] = field(default_factory=list)
    relied_on: list[str] = field(default_factory=list)
    # How many events were believed only because the checkpoint covers them.
    covered: int = 0

    def summary(self) -> dict[str, Any]:
        """Say, as data, which checkpoint and which keys the verdict relied on."""
        point = self.held
        return {
            "checkpoint": None
            if point is None
            else {
                "position": str(point.position),
                "at": point.at,
                "cases": len(point.heads),
                "key": point.public_key,
                "pinned": self.pinned,
            },
            "newest_checkpoint": str(self.newest) if self.newest else None,
            "keys": {"believed": self.believed, "relied_on": self.relied_on},
            "unsigned_covered": self.covered,
        }


@dataclass(frozen=True)
class Signed:
    """A checkpoint just signed: where it landed and how many cases it covers."""

    position: Position
    cases: int


@dataclass
class Belief:
    """Judges each event's signature as every reader does, and notes what it relied on."""

    ring: KeyRing
    coverage: Coverage | None
    # Unsigned events are believed wherever they lie: the one checkpoint over the history
    # written before signing existed.
    legacy: bool = False
    relied: set[str] = field(default_factory=set)
    covered: int = 0

    def judge(self, env: Envelope, where: Position) -> str | None:
        """Why the event must not be believed, or None."""
        if self.legacy and unsigned(env):
            return None
        place = (where.topic, where.partition, where.offset)
        problem = admit(env, self.ring, service_of(env.case_id).name, place, self.coverage)
        if problem is None:
            if env.key_id is None:
                self.covered += 1
            else:
                self.relied.add(env.key_id)
        return problem


def verify_case(settings: Settings, *, case_id: str) -> Verdict:
    """Check one case's chain, versions and schemas, signatures and checkpoint included."""
    return verify_log(settings, case_id=case_id).verdict


def verify_log(settings: Settings, *, case_id: str | None = None, meter: Meter = QUIET) -> Report:
    """Verify one case, or every case with its references: chains, signatures, the checkpoint.

    The CLI, the HTTP verify and the portal's chain badge all come here. Every event's
    signature is judged under the keys believed; one written before signing existed is
    believed only where the newest signed checkpoint covers it.
    """
    with reading():
        signed = checkpoint.latest(settings)
        ring = believed_keys(settings)
    report = Report(Verdict(), believed=ring.ids())
    trusted = audit_key(settings)
    point: checkpoint.Checkpoint | None = None
    covered: Coverage | None = None
    broken: str | None = None
    if signed is not None:
        report.newest, value = signed
        try:
            point = checkpoint.open_record(value, report.newest, trusted)
            covered = open_checkpoint(value, str(report.newest), trusted)
        except (checkpoint.CheckpointError, CheckpointUnusable) as exc:
            point, broken = None, str(exc)
    belief = Belief(ring, covered)
    with reading():
        if case_id is not None:
            verdict = verify(case_history(settings, case_id=case_id), admit=belief.judge)
        else:
            verdict = _verify_everything(settings, meter, belief.judge)
    report.verdict, report.relied_on = verdict, sorted(belief.relied)
    report.covered = belief.covered
    if report.newest is None:
        return report
    if broken is not None or point is None:
        detail = broken or "unusable checkpoint"
        verdict.findings.append(Finding("(checkpoint)", report.newest, "checkpoint", detail))
        return report
    heads = point.heads
    if case_id is not None:
        heads = {k: v for k, v in heads.items() if k == case_id}
    check_checkpoint(verdict, heads, report.newest)
    report.held, report.pinned = point, bool(trusted)
    return report


def _verify_everything(settings: Settings, meter: Meter, judge: Admit) -> Verdict:
    # The heads are read before the log: each was signed over records the log already held,
    # so one read after them always finds those records, even while the ledger is writing.
    heads: list[treeheads.TreeHead] | None = None
    try:
        keys = treeheads.audit_keys(settings)
    except treeheads.TreeHeadError as exc:
        where = Position(settings.topic(AUDIT_TREE_HEADS), 0, 0)
        refused = [Finding("(tree head)", where, "tree-head", f"not checked: {exc}")]
    else:
        heads, refused = treecheck.published(settings, keys)
    parts = event_partitions(settings, STREAMS)
    meter.start("verifying", sum(end_offsets(settings, parts).values()))
    trees: dict[tuple[str, int], treecheck.Tree] = {}
    records = treecheck.grow(_counted(read_partitions(settings, parts), meter), trees)
    verdict = verify(records, references=True, admit=judge)
    meter.finish()
    verdict.findings += refused
    if heads is not None:
        verdict.findings += treecheck.check(trees, heads, _filed(settings, trees))
    return verdict


def _filed(
    settings: Settings, trees: dict[tuple[str, int], treecheck.Tree]
) -> dict[tuple[str, int], list[bytes]]:
    """The leaves the index kept, where there is an index: they name the record that changed."""
    path = index_path(settings)
    if not path.exists():
        return {}
    index = CaseIndex(path, readonly=True)
    try:
        return {where: index.leaves(*where) for where in trees}
    finally:
        index.close()


def _counted(records: Iterable[LogRecord], meter: Meter) -> Iterator[LogRecord]:
    for n, rec in enumerate(records, start=1):
        if n % STEP == 0:
            meter.advance(STEP)
        yield rec


def sign_checkpoint(settings: Settings, *, legacy: bool = False) -> Signed:
    """Sign a checkpoint over every case's chain head now; raise LogHasFindings if any.

    Events without a signature count as findings unless the last checkpoint covers them;
    with `legacy`, once, when signing is brought in, they are believed and covered from now.
    """
    with reading():
        signed = checkpoint.latest(settings)
        covered = None
        if signed is not None:
            with contextlib.suppress(CheckpointUnusable):
                covered = open_checkpoint(signed[1], str(signed[0]), audit_key(settings))
        belief = Belief(believed_keys(settings), covered, legacy=legacy)
        parts = event_partitions(settings, STREAMS)
        ends = end_offsets(settings, parts)
        verdict = verify(read_partitions(settings, parts, ends=ends), admit=belief.judge)
        if not verdict.clean:
            raise LogHasFindings(verdict)
        by_topic: dict[str, dict[int, int]] = {}
        for tp, offset in ends.items():
            by_topic.setdefault(tp.topic, {})[tp.partition] = offset
        body = checkpoint.build(verdict.heads, by_topic, now_utc())
        where = checkpoint.publish(
            settings, checkpoint.sign(checkpoint.signing_key(settings), body)
        )
    return Signed(position=where, cases=len(verdict.heads))
