"""Proofs from the audit index: an event is in a signed tree, one head extends another, bundles."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from services.audit import merkle, treeheads
from services.audit.index import CaseIndex, Entry, index_path
from services.audit.lineage import IndexNotReady
from services.audit.records import (
    LogRecord,
    LogUnreachable,
    NoSuchCase,
    Position,
    fetch,
    reading,
    stream_of,
)
from services.common.keys import believed_keys
from services.common.settings import Settings

FORMAT = "taizhang-proof-bundle/v1"


class NotCovered(LookupError):
    """No signed tree head covers the record yet, or the heads asked for were never signed."""


class MissingKeys(LookupError):
    """Events of the case are signed by keys the bundle was not given."""


@dataclass(frozen=True)
class Inclusion:
    """Where a record is in its partition's tree, and the path to a signed head's root."""

    position: Position
    leaf_index: int
    head: treeheads.TreeHead
    proof: list[bytes]

    def to_wire(self) -> dict[str, Any]:
        """Return the proof as JSON: hashes in hex."""
        return {
            "topic": self.position.topic,
            "partition": self.position.partition,
            "offset": self.position.offset,
            "leaf_index": self.leaf_index,
            "tree_head": self.head.to_wire(),
            "proof": [p.hex() for p in self.proof],
        }


@contextmanager
def opened(settings: Settings) -> Iterator[CaseIndex]:
    """Open the index read-only; raise IndexNotReady where it has not been built."""
    path = index_path(settings)
    if not path.exists():
        raise IndexNotReady("the audit index has not been built yet")
    index = CaseIndex(path, readonly=True)
    try:
        yield index
    finally:
        index.close()


def heads_of(index: CaseIndex, topic: str, partition: int) -> list[treeheads.TreeHead]:
    """Return a partition's kept tree heads, largest first (their signatures were checked)."""
    return [_head(v) for v in index.tree_heads(topic, partition)]


def _head(value: bytes) -> treeheads.TreeHead:
    return treeheads.TreeHead(**json.loads(value))


def inclusion(index: CaseIndex, position: Position, tree_size: int | None = None) -> Inclusion:
    """Prove a record is a leaf of a signed head (the largest one, unless a size is given)."""
    leaf = index.leaf_at(position)
    if leaf is None:
        raise NoSuchCase(f"no record at {position} in the index")
    heads = heads_of(index, position.topic, position.partition)
    chosen = [h for h in heads if (h.tree_size == tree_size if tree_size else h.tree_size > leaf)]
    if not chosen:
        raise NotCovered(f"no signed tree head covers {position} yet")
    head = chosen[0]
    leaves = index.leaves(position.topic, position.partition)
    if head.tree_size <= leaf:
        raise NotCovered(f"the head of size {head.tree_size} does not cover leaf {leaf}")
    _check_root(leaves, head)
    return Inclusion(position, leaf, head, merkle.inclusion_proof(leaves, leaf, head.tree_size))


def _check_root(leaves: Sequence[bytes], head: treeheads.TreeHead) -> None:
    if len(leaves) < head.tree_size or merkle.root(leaves, head.tree_size) != head.root:
        raise NotCovered(
            f"the index's tree of {head.topic}/{head.partition} no longer has the root the head"
            f" of size {head.tree_size} signed: run `taizhang audit verify --all`"
        )


def entry_of(index: CaseIndex, case_id: str, version: int) -> Entry:
    """Return the first record of a case's version; raise NoSuchCase."""
    stream_of(case_id)
    for entry in index.entries(case_id):
        if entry.case_version == version:
            return entry
    raise NoSuchCase(f"no version {version} of {case_id} in the index")


def consistency(
    index: CaseIndex, topic: str, partition: int, first: int, second: int
) -> list[bytes]:
    """Prove the signed head of size `first` is a prefix of the signed head of size `second`."""
    heads = {h.tree_size: h for h in heads_of(index, topic, partition)}
    missing = [n for n in (first, second) if n not in heads]
    if missing:
        raise NotCovered(f"no signed head of size {missing[0]} for {topic}/{partition}")
    leaves = index.leaves(topic, partition)
    _check_root(leaves, heads[second])
    return merkle.consistency_proof(leaves, first, second)


def bundle_of(
    case_id: str,
    records: Sequence[tuple[LogRecord, int]],
    heads: Sequence[treeheads.TreeHead],
    leaves: Mapping[tuple[str, int], Sequence[bytes]],
    keys: dict[str, str],
) -> dict[str, Any]:
    """Assemble a bundle: a case's records as written, each proved into the newest signed head."""
    newest: dict[tuple[str, int], treeheads.TreeHead] = {}
    for head in heads:
        where = (head.topic, head.partition)
        if where not in newest or head.tree_size > newest[where].tree_size:
            newest[where] = head
    events = []
    used: set[tuple[str, int]] = set()
    for rec, leaf in records:
        where = (rec.position.topic, rec.position.partition)
        covering = newest.get(where)
        if covering is None or covering.tree_size <= leaf:
            raise NotCovered(f"{rec.position} is newer than every signed tree head")
        tree = leaves[where]
        if tree[leaf] != merkle.leaf_hash(rec.value):
            raise NotCovered(f"{rec.position} is no longer the record the index filed")
        head = covering
        if where not in used:
            _check_root(tree, head)
            used.add(where)
        events.append(
            {
                "topic": where[0],
                "partition": where[1],
                "leaf_index": leaf,
                "tree_size": head.tree_size,
                "record": treeheads.b64url(rec.value),
                "proof": [p.hex() for p in merkle.inclusion_proof(tree, leaf, head.tree_size)],
            }
        )
    signers = {_signer(rec.value) for rec, _ in records} - {None}
    missing = sorted(str(k) for k in signers if k not in keys)
    if missing:
        raise MissingKeys(f"the case's events are signed by {', '.join(missing)}, not given")
    return {
        "format": FORMAT,
        "case_id": case_id,
        "keys": dict(sorted(keys.items())),
        "tree_heads": [newest[w].to_wire() for w in sorted(used)],
        "events": events,
    }


def _signer(value: bytes) -> str | None:
    """The key id an event names, if it is signed (an unreadable record names none)."""
    try:
        event = json.loads(value)
    except ValueError:
        return None
    kid = event.get("key_id") if isinstance(event, dict) else None
    return kid if isinstance(kid, str) else None


def prove_case(settings: Settings, case_id: str, keys: dict[str, str]) -> dict[str, Any]:
    """Build the bundle of one case from the index and the log; the keys go in with it."""
    with opened(settings) as index:
        stream_of(case_id)
        entries = index.entries(case_id)
        if not entries:
            raise NoSuchCase(f"no case {case_id} in the index")
        places = {(e.position.topic, e.position.partition) for e in entries}
        leaves = {w: index.leaves(*w) for w in places}
        heads = [h for w in places for h in heads_of(index, *w)]
        numbered = []
        for e in entries:
            leaf = index.leaf_at(e.position)
            if leaf is not None:
                numbered.append((e.position, leaf))
    try:
        with reading():
            fetched = {r.position: r for r in fetch(settings, [p for p, _ in numbered])}
    except LookupError as exc:
        raise LogUnreachable(str(exc)) from exc
    records = [(fetched[p], leaf) for p, leaf in numbered]
    return bundle_of(case_id, records, heads, leaves, {**_signers_keys(settings, records), **keys})


def _signers_keys(settings: Settings, records: Sequence[tuple[LogRecord, int]]) -> dict[str, str]:
    """The published keys, believed here, that signed the case's events: a bundle carries them."""
    signers = {_signer(rec.value) for rec, _ in records} - {None}
    if not signers:
        return {}
    ring = believed_keys(settings)
    found = (ring.get(kid) for kid in sorted(str(k) for k in signers))
    return {key.key_id: treeheads.b64url(key.public) for key in found if key is not None}
