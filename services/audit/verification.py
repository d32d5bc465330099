"""Checking histories read from the log: hash chains, versions, schemas, references, checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from contracts.catalog import CASE_ID
from contracts.envelope import GENESIS_HASH, Envelope, chain_hash, parse_record
from contracts.registry import REGISTRY
from services.audit.records import LogRecord, Position

# Given an event and where it lies: why it must not be believed (its signature), or None.
Admit = Callable[[Envelope, Position], str | None]


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the history, and exactly where."""

    case_id: str
    position: Position
    kind: str
    detail: str


@dataclass
class Verdict:
    """The outcome of checking one or more cases."""

    cases: int = 0
    events: int = 0
    redeliveries: int = 0
    findings: list[Finding] = field(default_factory=list)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    hashes: dict[str, dict[int, str]] = field(default_factory=dict)
    last: dict[str, Position] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Whether nothing is wrong."""
        return not self.findings


@dataclass
class _Chain:
    """What the verifier remembers of one case while reading the log: never its records."""

    expected: int = 1
    prev: str = GENESIS_HASH
    seen: dict[int, tuple[str, Position]] = field(default_factory=dict)
    # Where each event id was first read.
    ids: dict[str, Position] = field(default_factory=dict)
    last: Position | None = None


def verify(
    records: Iterable[LogRecord],
    verdict: Verdict | None = None,
    *,
    references: bool = False,
    admit: Admit | None = None,
) -> Verdict:
    """Check hash chains, versions, schemas and duplicates of every case in the records.

    With `references`, ids of other cases named by an event (its correlation id or a
    payload field) must be cases present in the records too. With `admit`, every event's
    signature is judged as well, and one not believed is a finding at its offset.
    """
    verdict = verdict or Verdict()
    chains: dict[str, _Chain] = {}
    named: list[tuple[str, Position, str, str]] = []
    for rec in records:
        case_id = rec.key or "(no key)"
        chain = chains.get(case_id)
        if chain is None:
            chain = chains[case_id] = _Chain()
            verdict.cases += 1
        _verify_record(case_id, rec, chain, verdict, named, admit)
    for case_id, chain in chains.items():
        verdict.heads[case_id] = (chain.expected - 1, chain.prev)
        verdict.hashes[case_id] = {v: h for v, (h, _) in chain.seen.items()}
        if chain.last is not None:
            verdict.last[case_id] = chain.last
    if references:
        reported: set[tuple[str, str]] = set()
        for case_id, pos, where, other in named:
            if other not in chains and (case_id, other) not in reported:
                reported.add((case_id, other))
                verdict.findings.append(
                    Finding(
                        case_id, pos, "reference", f"{where} names {other}, which is not in the log"
                    )
                )
    return verdict


def _verify_record(
    case_id: str,
    rec: LogRecord,
    chain: _Chain,
    verdict: Verdict,
    named: list[tuple[str, Position, str, str]],
    admit: Admit | None = None,
) -> None:
    def report(kind: str, detail: str) -> None:
        verdict.findings.append(Finding(case_id, rec.position, kind, detail))

    verdict.events += 1
    chain.last = rec.position
    try:
        raw, env = parse_record(rec.value)
    except (ValueError, ValidationError) as exc:
        report("unreadable", str(exc).splitlines()[0][:200])
        return
    if env.case_id != case_id:
        report("foreign", f"record keyed {case_id} carries case {env.case_id}")
        return
    if chain_hash(raw) != raw["hash"]:
        report("altered", f"version {env.case_version}: content does not match its hash")
        return
    problem = admit(env, rec.position) if admit is not None else None
    if problem is not None:
        report("signature", f"{env.event_type} as version {env.case_version}: {problem}")
    try:
        REGISTRY.read(env)
    except (ValueError, ValidationError) as exc:
        report(
            "schema", f"{env.event_type} v{env.schema_version}: {str(exc).splitlines()[0][:200]}"
        )
        return
    first = chain.seen.get(env.case_version)
    if first is not None:
        if first[0] == env.hash:
            verdict.redeliveries += 1
        else:
            report(
                "conflict", f"a second, different version {env.case_version} (first at {first[1]})"
            )
        return
    again = chain.ids.get(str(env.event_id))
    if again is not None:
        report(
            "conflict",
            f"event {env.event_id} again, with another hash, as version {env.case_version}"
            f" (first at {again})",
        )
        return
    if env.case_version != chain.expected:
        report("gap", f"expected version {chain.expected}, found {env.case_version}")
    elif env.prev_hash != chain.prev:
        report(
            "broken-chain",
            f"version {env.case_version} does not chain from version {chain.expected - 1}",
        )
    chain.seen[env.case_version] = (env.hash, rec.position)
    chain.ids[str(env.event_id)] = rec.position
    chain.prev, chain.expected = env.hash, env.case_version + 1
    for where, other in case_references(env):
        if other != case_id:
            named.append((case_id, rec.position, where, other))


def case_references(env: Envelope) -> list[tuple[str, str]]:
    """Return (where, case id) for every other case an event names."""
    out = []
    if CASE_ID.match(env.correlation_id):
        out.append(("correlation_id", env.correlation_id))
    if CASE_ID.match(env.causation_id):
        out.append(("causation_id", env.causation_id))
    for key, value in env.payload.items():
        if isinstance(value, str) and CASE_ID.match(value):
            out.append((f"payload.{key}", value))
    return out


def check_checkpoint(verdict: Verdict, heads: dict[str, tuple[int, str]], where: Position) -> None:
    """Report every case a signed checkpoint saw that the log no longer holds as it was."""
    for case_id, (version, digest) in sorted(heads.items()):
        hashes = verdict.hashes.get(case_id)
        pos = verdict.last.get(case_id, where)
        if hashes is None:
            verdict.findings.append(
                Finding(
                    case_id,
                    where,
                    "checkpoint",
                    f"the checkpoint at {where} saw version"
                    f" {version}, the log has no such case any more",
                )
            )
        elif version not in hashes:
            verdict.findings.append(
                Finding(
                    case_id,
                    pos,
                    "checkpoint",
                    f"truncated: the checkpoint at {where} saw"
                    f" version {version}, the log ends at {max(hashes, default=0)}",
                )
            )
        elif hashes[version] != digest:
            verdict.findings.append(
                Finding(
                    case_id,
                    pos,
                    "checkpoint",
                    f"rewritten: version {version} no longer has"
                    f" the hash the checkpoint at {where} signed ({digest[:12]}…)",
                )
            )
