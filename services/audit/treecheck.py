"""Holding the log as it is now against the tree heads the audit service signed over it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from contracts.catalog import AUDIT_TREE_HEADS
from services.audit import merkle, treeheads
from services.audit.records import LogRecord, Position, read_partitions, topic_partitions
from services.audit.verification import Finding
from services.common.settings import Settings


@dataclass
class Tree:
    """A partition's leaves as the log holds them now, and the offset of each."""

    leaves: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)


def grow(records: Iterable[LogRecord], trees: dict[tuple[str, int], Tree]) -> Iterator[LogRecord]:
    """Pass records through, adding each as the next leaf of its partition's tree."""
    for rec in records:
        tree = trees.setdefault((rec.position.topic, rec.position.partition), Tree())
        tree.leaves.append(merkle.leaf_hash(rec.value))
        tree.offsets.append(rec.position.offset)
        yield rec


def check(
    trees: Mapping[tuple[str, int], Tree],
    heads: Iterable[treeheads.TreeHead],
    filed: Mapping[tuple[str, int], Sequence[bytes]] | None = None,
) -> list[Finding]:
    """Report every partition whose log no longer has the root its newest signed head signed.

    `filed` are the leaves the index kept as it read the log: with them the first record
    that differs is named, not just the partition.
    """
    newest: dict[tuple[str, int], treeheads.TreeHead] = {}
    for head in heads:
        where = (head.topic, head.partition)
        if where not in newest or head.tree_size > newest[where].tree_size:
            newest[where] = head
    findings = []
    for where, head in sorted(newest.items()):
        tree = trees.get(where, Tree())
        start = tree.offsets[0] if tree.offsets else 0
        begins = f"; the log now begins at offset {start}" if start else ""
        if len(tree.leaves) < head.tree_size:
            at = Position(*where, tree.offsets[-1] if tree.offsets else 0)
            detail = (
                f"truncated: the tree head of {head.timestamp} signed {head.tree_size} records,"
                f" the log holds {len(tree.leaves)}{begins}"
            )
        elif merkle.root(tree.leaves, head.tree_size) != head.root:
            old = (filed or {}).get(where, ())
            first = next(
                (i for i, leaf in enumerate(tree.leaves[: len(old)]) if leaf != old[i]), None
            )
            at = Position(*where, tree.offsets[first] if first is not None else start)
            named = f" (record {first} differs)" if first is not None else ""
            detail = (
                f"rewritten: the log's first {head.tree_size} records{named} are not those the"
                f" tree head of {head.timestamp} signed ({head.root_hash[:12]}…){begins}"
            )
        else:
            continue
        findings.append(Finding("(tree head)", at, "tree-head", detail))
    return findings


def published(
    settings: Settings, keys: treeheads.Keys
) -> tuple[list[treeheads.TreeHead], list[Finding]]:
    """Read every published tree head; those whose signature fails are findings."""
    parts = topic_partitions(settings, [settings.topic(AUDIT_TREE_HEADS)])
    heads, findings = [], []
    for rec in read_partitions(settings, parts):
        try:
            heads.append(treeheads.open_head(rec.value, keys))
        except treeheads.TreeHeadError as exc:
            findings.append(Finding("(tree head)", rec.position, "tree-head", str(exc)))
    return heads, findings
