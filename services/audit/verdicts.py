"""Verdicts over the log: one case's or every case's, held against the newest signed checkpoint."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from contracts.catalog import AUDIT_TREE_HEADS
from contracts.envelope import now_utc
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
from services.audit.verification import Finding, Verdict, check_checkpoint, verify
from services.common.kafka import STREAMS
from services.common.settings import Settings

# How many records a meter hears about at a time while the whole log is verified.
STEP = 1000


class LogHasFindings(Exception):
    """The log has findings, so no checkpoint is signed over it."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"the log has {len(verdict.findings)} finding(s)")
        self.verdict = verdict


@dataclass
class Report:
    """A verdict, and what the newest signed checkpoint said of it."""

    verdict: Verdict
    # Where the newest signed checkpoint lies; None if none was ever signed.
    newest: Position | None = None
    # That checkpoint, when its signature holds.
    held: checkpoint.Checkpoint | None = None
    # Whether the signature was checked against this machine's copy of the audit key.
    pinned: bool = False


@dataclass(frozen=True)
class Signed:
    """A checkpoint just signed: where it landed and how many cases it covers."""

    position: Position
    cases: int


def verify_case(settings: Settings, *, case_id: str) -> Verdict:
    """Check one case's chain, versions and schemas."""
    return verify(case_history(settings, case_id=case_id))


def verify_log(settings: Settings, *, case_id: str | None = None, meter: Meter = QUIET) -> Report:
    """Verify one case, or every case with its references; hold it against the last checkpoint."""
    if case_id is not None:
        verdict = verify_case(settings, case_id=case_id)
    with reading():
        if case_id is None:
            verdict = _verify_everything(settings, meter)
        signed = checkpoint.latest(settings)
    report = Report(verdict)
    if signed is None:
        return report
    where, value = signed
    report.newest = where
    trusted = checkpoint.trusted_key(settings)
    try:
        point = checkpoint.open_record(value, where, trusted)
    except checkpoint.CheckpointError as exc:
        verdict.findings.append(Finding("(checkpoint)", where, "checkpoint", str(exc)))
        return report
    heads = point.heads
    if case_id is not None:
        heads = {k: v for k, v in heads.items() if k == case_id}
    check_checkpoint(verdict, heads, where)
    report.held, report.pinned = point, bool(trusted)
    return report


def _verify_everything(settings: Settings, meter: Meter) -> Verdict:
    parts = event_partitions(settings, STREAMS)
    meter.start("verifying", sum(end_offsets(settings, parts).values()))
    trees: dict[tuple[str, int], treecheck.Tree] = {}
    records = treecheck.grow(_counted(read_partitions(settings, parts), meter), trees)
    verdict = verify(records, references=True)
    meter.finish()
    try:
        keys = treeheads.audit_keys(settings)
    except treeheads.TreeHeadError as exc:
        where = Position(settings.topic(AUDIT_TREE_HEADS), 0, 0)
        verdict.findings.append(Finding("(tree head)", where, "tree-head", f"not checked: {exc}"))
        return verdict
    heads, refused = treecheck.published(settings, keys)
    verdict.findings += refused + treecheck.check(trees, heads, _filed(settings, trees))
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


def sign_checkpoint(settings: Settings) -> Signed:
    """Sign a checkpoint over every case's chain head now; raise LogHasFindings if any."""
    with reading():
        parts = event_partitions(settings, STREAMS)
        ends = end_offsets(settings, parts)
        verdict = verify(read_partitions(settings, parts, ends=ends))
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
