"""A case's proof bundle, checked by the standalone verifier alone, and refused once altered."""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import verify_bundle
from contracts.envelope import canonical_bytes, chain_hash
from services.audit import merkle, proofs, treecheck, treeheads
from services.audit.index import CaseIndex
from services.audit.records import LogRecord, Position
from services.common.settings import Settings
from tests.unit.test_audit import case

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TOPIC = "grievance.events"
AUDIT = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
INTAKE = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def signed(value: bytes, key: Ed25519PrivateKey, *, after: str | None = None) -> bytes:
    """An event as a signing decider writes it: key id and signature beside the hash, or the
    key id sealed inside the hash when the chain is sealed again `after` a given hash."""
    event = json.loads(value)
    event["key_id"] = treeheads.key_id("intake", key.public_key())
    if after is not None:
        event["prev_hash"] = after
        event["hash"] = chain_hash(event)
    event["signature"] = treeheads.b64url(key.sign(b"taizhang-event-v1:" + event["hash"].encode()))
    return canonical_bytes(event)


def keys_of(*pairs: tuple[str, Ed25519PrivateKey]) -> dict[str, str]:
    return {
        treeheads.key_id(name, k.public_key()): treeheads.b64url(
            treeheads.raw_public(k.public_key())
        )
        for name, k in pairs
    }


def bundle(tmp_path: Path, *, sign_events: bool = True, inside: bool = False) -> tuple[bytes, str]:
    """A partition of three cases, filed in an index, a head signed over it, one case proved."""
    cases = [case("GRV-AAAA0001", 1), case("GRV-BBBB0002", 2), case("GRV-CCCC0003", 3)]
    recs: list[LogRecord] = []
    prev = "0" * 64
    for n in range(max(len(c) for c in cases)):
        for events in cases:
            if n < len(events):
                value = events[n].to_bytes()
                if sign_events and events[0].case_id == "GRV-BBBB0002":
                    value = signed(value, INTAKE, after=prev if inside else None)
                    prev = json.loads(value)["hash"]
                # Offsets skip, as transaction markers make them do on the real log.
                recs.append(LogRecord(Position(TOPIC, 2, 3 * len(recs)), events[n].case_id, value))
    index = CaseIndex(tmp_path / "index.sqlite")
    index.add(recs[:7], {(TOPIC, 2): 21})
    index.add(recs, {(TOPIC, 2): 3 * len(recs)})
    leaves = index.leaves(TOPIC, 2)
    assert leaves == [merkle.leaf_hash(r.value) for r in recs]
    head = treeheads.sign(
        AUDIT, topic=TOPIC, partition=2, tree_size=len(leaves), root=merkle.root(leaves), at=AT
    )
    victim = "GRV-BBBB0002"
    mine = [(r, index.leaf_at(r.position)) for r in recs if r.key == victim]
    keys = keys_of(("audit", AUDIT), *([("intake", INTAKE)] if sign_events else []))
    body = proofs.bundle_of(
        victim, [(r, int(leaf or 0)) for r, leaf in mine], [head], {(TOPIC, 2): leaves}, keys
    )
    index.close()
    return json.dumps(body, indent=2).encode(), victim


def test_a_bundle_verifies_with_nothing_but_itself(tmp_path: Path) -> None:
    content, victim = bundle(tmp_path)
    report = verify_bundle.verify(content)
    assert report.holds, report.failures
    assert any("not pinned" in n for n in report.notes)
    assert any(f"{victim}: versions 1 to" in n and "unsigned" in n for n in report.notes)
    pinned = json.loads(content)["keys"]
    assert verify_bundle.verify(content, pinned).holds
    other = keys_of(("audit", Ed25519PrivateKey.generate()))
    refused = verify_bundle.verify(content, other)
    assert any("not one of the pinned keys" in f for f in refused.failures)


def test_a_key_id_sealed_inside_the_hash_verifies_too(tmp_path: Path) -> None:
    content, victim = bundle(tmp_path, inside=True)
    report = verify_bundle.verify(content)
    assert report.holds, report.failures
    assert any(f"{victim}: versions 1 to" in n and " 0 signed" not in n for n in report.notes)


def test_events_without_signatures_are_reported_unsigned(tmp_path: Path) -> None:
    content, _ = bundle(tmp_path, sign_events=False)
    report = verify_bundle.verify(content)
    assert report.holds, report.failures
    assert any(" 0 signed, " in n and "unsigned" in n for n in report.notes)


def test_one_byte_changed_anywhere_fails_the_bundle(tmp_path: Path) -> None:
    content, _ = bundle(tmp_path)
    positions = sorted({*range(0, len(content), max(1, len(content) // 400)), len(content) - 2})
    held = []
    for i in positions:
        for flip in (0x01, 0x20):
            altered = bytearray(content)
            altered[i] ^= flip
            try:
                if verify_bundle.verify(bytes(altered)).holds:
                    held.append((i, flip, content[max(0, i - 20) : i + 20]))
            except verify_bundle.Unreadable:
                pass
    assert not held, held


def test_a_record_the_head_did_not_cover_or_a_forged_head_fails(tmp_path: Path) -> None:
    content, _ = bundle(tmp_path)
    body: dict[str, Any] = json.loads(content)
    head = body["tree_heads"][0]
    forged = treeheads.sign(
        Ed25519PrivateKey.generate(),
        topic=head["topic"],
        partition=head["partition"],
        tree_size=head["tree_size"],
        root=hashlib.sha256(b"another history").digest(),
        at=AT,
    )
    body["tree_heads"] = [{**forged.to_wire(), "key_id": head["key_id"]}]
    report = verify_bundle.verify(json.dumps(body).encode())
    assert any("signature" in f for f in report.failures)
    body = json.loads(content)
    body["events"] = body["events"][1:]
    report = verify_bundle.verify(json.dumps(body).encode())
    assert any("expected version 1" in f for f in report.failures)


def test_the_verifier_imports_nothing_of_the_ledger() -> None:
    tree = ast.parse(Path(verify_bundle.__file__).read_text())
    roots = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    roots = {r.split(".")[0] for r in roots}
    assert roots <= set(sys.stdlib_module_names) | {"__future__", "cryptography"}, roots


def test_a_tree_head_is_refused_when_signed_by_an_unknown_key_or_altered() -> None:
    head = treeheads.sign(AUDIT, topic=TOPIC, partition=0, tree_size=3, root=b"\x01" * 32, at=AT)
    known = {head.key_id: AUDIT.public_key()}
    assert treeheads.open_head(head.value(), known) == head
    with pytest.raises(treeheads.TreeHeadError, match="not a known audit key"):
        treeheads.open_head(head.value(), {})
    with pytest.raises(treeheads.TreeHeadError, match="does not match"):
        treeheads.open_head({**head.to_wire(), "tree_size": 4}, known)
    settings = Settings(environment="production", jwt_secret="j" * 32, master_key="m" * 32)
    with pytest.raises(treeheads.TreeHeadError, match="AUDIT_KEY_FILE"):
        treeheads.audit_key(settings, None)
    development = Settings(master_key="m" * 32)
    derived = treeheads.audit_key(development, None).public_key()
    assert treeheads.key_id("audit", derived) == treeheads.key_id(
        "audit", treeheads.audit_key(development, None).public_key()
    )


def test_a_partition_held_against_its_newest_head() -> None:
    values = [f"record {i}".encode() for i in range(9)]
    filed = [merkle.leaf_hash(v) for v in values]

    def head(size: int) -> treeheads.TreeHead:
        root = merkle.root(filed, size)
        return treeheads.sign(AUDIT, topic=TOPIC, partition=1, tree_size=size, root=root, at=AT)

    def tree(vals: list[bytes], start: int = 0) -> treecheck.Tree:
        return treecheck.Tree(
            [merkle.leaf_hash(v) for v in vals], list(range(start, start + 2 * len(vals), 2))
        )

    where = (TOPIC, 1)
    assert treecheck.check({where: tree(values)}, [head(4), head(7)]) == []
    cut = treecheck.check({where: tree(values[:5])}, [head(4), head(7)])
    assert [f.kind for f in cut] == ["tree-head"] and "truncated" in cut[0].detail
    # Deleted and written again from offset 100, the fourth record in other bytes.
    again = [*values[:3], values[3] + b" ", *values[4:]]
    found = treecheck.check({where: tree(again, 100)}, [head(7)], {where: filed})
    assert [f.position for f in found] == [Position(TOPIC, 1, 106)]
    assert "record 3 differs" in found[0].detail and "begins at offset 100" in found[0].detail
    # Records appended after the head, and the same records written again, are no finding.
    assert treecheck.check({where: tree(values, 100)}, [head(7)], {where: filed}) == []


def test_a_bundle_is_refused_without_the_keys_its_events_were_signed_with() -> None:
    env = case("GRV-DDDD0004", 4)[0]
    rec = LogRecord(Position(TOPIC, 0, 0), env.case_id, signed(env.to_bytes(), INTAKE))
    leaves = [merkle.leaf_hash(rec.value)]
    head = treeheads.sign(AUDIT, topic=TOPIC, partition=0, tree_size=1, root=leaves[0], at=AT)
    with pytest.raises(proofs.MissingKeys, match="intake:"):
        proofs.bundle_of(
            env.case_id, [(rec, 0)], [head], {(TOPIC, 0): leaves}, keys_of(("audit", AUDIT))
        )
    with pytest.raises(proofs.NotCovered, match="newer than every signed tree head"):
        proofs.bundle_of(env.case_id, [(rec, 1)], [head], {(TOPIC, 0): leaves}, {})


def test_heads_are_checked_with_the_configured_public_key_where_no_signing_key_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production = Settings(environment="production", jwt_secret="j" * 32, master_key="m" * 32)
    public = treeheads.b64url(treeheads.raw_public(AUDIT.public_key()))
    monkeypatch.setenv("TAIZHANG_TREE_HEAD_PUBLIC_KEY", public)
    assert list(treeheads.audit_keys(production)) == [treeheads.key_id("audit", AUDIT.public_key())]
    monkeypatch.setenv("TAIZHANG_TREE_HEAD_PUBLIC_KEY", public[:-2])
    with pytest.raises(treeheads.TreeHeadError, match="TREE_HEAD_PUBLIC_KEY"):
        treeheads.audit_keys(production)
