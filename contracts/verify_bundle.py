#!/usr/bin/env python3
"""Check a Taizhang proof bundle offline: hash chains, inclusion proofs, signed heads, signatures.

Runs alone: Python 3.11 and the `cryptography` package, nothing else of the ledger.
    python3 verify_bundle.py bundle.json [--pin keys.json]
`--pin` names a JSON object of key ids to public keys (base64url) obtained from the union by
another channel; without it the keys the bundle carries are trusted, and the report says so.
Exit status: 0 when every check holds, 1 when one fails, 2 when the files cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "taizhang-proof-bundle/v1"
HEAD_DOMAIN = b"taizhang-tree-head-v1:"
EVENT_DOMAIN = b"taizhang-event-v1:"
GENESIS = "0" * 64
TOP_FIELDS = {"format", "case_id", "keys", "tree_heads", "events"}
HEAD_FIELDS = {"key_id", "partition", "root_hash", "timestamp", "topic", "tree_size", "signature"}
EVENT_FIELDS = {"topic", "partition", "leaf_index", "tree_size", "record", "proof"}
# An event's hash covers every field but itself and the signature made over it; the key id
# is held either inside the hash or beside it, as the signer sealed the event.
UNHASHED = ("hash", "signature")


class Unreadable(ValueError):
    """The bundle is not one: not JSON, or not the shape of a bundle."""


@dataclass
class Report:
    """What was checked, and every check that failed."""

    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        """Whether every check held."""
        return not self.failures


def canonical(data: Any) -> bytes:
    """Serialise JSON as the ledger hashes it: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64url(text: Any) -> bytes:
    """Decode canonical base64url without padding."""
    if not isinstance(text, str):
        raise Unreadable("base64url text expected")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except ValueError as exc:
        raise Unreadable(f"not base64url: {exc}") from exc
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != text:
        raise Unreadable("not the canonical base64url of its bytes")
    return raw


def hex32(text: Any) -> bytes:
    """Decode a SHA-256 written as 64 lowercase hex digits."""
    if not isinstance(text, str) or len(text) != 64 or text != text.lower():
        raise Unreadable(f"not a lowercase SHA-256 in hex: {text!r}")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise Unreadable(f"not hex: {text!r}") from exc


def count(value: Any) -> int:
    """A non-negative integer (a bool is not one)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Unreadable(f"not a count: {value!r}")
    return value


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 inner node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_holds(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """Verify an audit path as RFC 9162 §2.1.3.2 does."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def signature_holds(key: bytes, signature: bytes, message: bytes) -> bool:
    """Verify an Ed25519 signature."""
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _strict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Unreadable("a JSON object names a field twice")
    return dict(pairs)


def _object(value: Any, fields: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != fields:
        raise Unreadable(f"{what} must have exactly the fields {', '.join(sorted(fields))}")
    return value


def verify(content: bytes, pinned: dict[str, str] | None = None) -> Report:
    """Check a bundle's bytes; raise Unreadable when they are not a bundle at all."""
    try:
        bundle = json.loads(content.decode("utf-8"), object_pairs_hook=_strict)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unreadable(f"not JSON: {exc}") from exc
    _object(bundle, TOP_FIELDS, "a bundle")
    if bundle["format"] != FORMAT:
        raise Unreadable(f"not a {FORMAT} bundle")
    report = Report()
    keys = _keys(bundle["keys"], pinned, report)
    used: set[str] = set()
    heads = _heads(bundle["tree_heads"], keys, used, report)
    case_id = bundle["case_id"]
    if not isinstance(case_id, str):
        raise Unreadable("case_id must be text")
    events = bundle["events"]
    if not isinstance(events, list) or not events:
        raise Unreadable("a bundle holds at least one event")
    covered: set[tuple[str, int]] = set()
    chain = Chain(case_id, report)
    last: tuple[str, int, int] | None = None
    for n, item in enumerate(events):
        where = f"event {n}"
        e = _object(item, EVENT_FIELDS, where)
        topic, partition = e["topic"], count(e["partition"])
        leaf, size = count(e["leaf_index"]), count(e["tree_size"])
        record = b64url(e["record"])
        proof = [hex32(p) for p in _list(e["proof"])]
        if last is not None and (topic, partition, leaf) <= last:
            report.failures.append(f"{where}: events are not in leaf order")
        last = (topic, partition, leaf)
        head = heads.get((topic, partition))
        if head is None or head["tree_size"] != size:
            report.failures.append(f"{where}: no signed tree head of size {size} for it")
        elif not inclusion_holds(leaf_hash(record), leaf, size, proof, hex32(head["root_hash"])):
            report.failures.append(
                f"{where}: not included in the signed head's tree at leaf {leaf}"
            )
        else:
            covered.add((topic, partition))
        chain.add(f"{where} ({topic}/{partition} leaf {leaf})", record, keys, used)
    chain.finish()
    for topic, partition in sorted(set(heads) - covered):
        report.failures.append(f"the tree head of {topic}/{partition} proves no event")
    for key in sorted(set(keys) - used):
        report.failures.append(f"key {key} is carried but used by nothing")
    return report


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Unreadable("a list expected")
    return value


def _keys(value: Any, pinned: dict[str, str] | None, report: Report) -> dict[str, bytes]:
    if not isinstance(value, dict):
        raise Unreadable("keys must map key ids to public keys")
    keys: dict[str, bytes] = {}
    for kid, text in value.items():
        raw = b64url(text)
        name, _, digest = kid.partition(":")
        if len(raw) != 32 or not name or digest != hashlib.sha256(raw).hexdigest()[:16]:
            report.failures.append(f"key {kid}: its id does not name its bytes")
            continue
        if pinned is not None and pinned.get(kid) != text:
            report.failures.append(f"key {kid} is not one of the pinned keys")
            continue
        keys[kid] = raw
    how = "pinned" if pinned is not None else "carried by the bundle itself (not pinned)"
    report.notes.append(f"{len(keys)} key(s), {how}: {', '.join(sorted(keys)) or 'none'}")
    return keys


def _heads(
    value: Any, keys: dict[str, bytes], used: set[str], report: Report
) -> dict[tuple[str, int], dict[str, Any]]:
    heads: dict[tuple[str, int], dict[str, Any]] = {}
    for item in _list(value):
        head = _object(item, HEAD_FIELDS, "a tree head")
        where = (head["topic"], count(head["partition"]))
        count(head["tree_size"])
        hex32(head["root_hash"])
        if not isinstance(head["topic"], str) or not isinstance(head["timestamp"], str):
            raise Unreadable("a tree head's topic and timestamp are text")
        if where in heads:
            raise Unreadable(f"two tree heads for {where[0]}/{where[1]}")
        body = {k: v for k, v in head.items() if k != "signature"}
        key = keys.get(head["key_id"])
        used.add(head["key_id"])
        signature = b64url(head["signature"])
        if key is None or not signature_holds(key, signature, HEAD_DOMAIN + canonical(body)):
            report.failures.append(
                f"tree head of {where[0]}/{where[1]}: the signature by {head['key_id']} fails"
            )
            continue
        heads[where] = head
        report.notes.append(
            f"tree head of {where[0]}/{where[1]}: {head['tree_size']} leaves at"
            f" {head['timestamp']}, signed by {head['key_id']}"
        )
    return heads


class Chain:
    """One case's hash chain, read in log order: versions from 1, each linked to the last."""

    def __init__(self, case_id: str, report: Report) -> None:
        self.case_id, self.report = case_id, report
        self.expected, self.prev = 1, GENESIS
        self.seen: dict[int, str] = {}
        self.signed = self.unsigned = self.again = 0

    def add(self, where: str, record: bytes, keys: dict[str, bytes], used: set[str]) -> None:
        """Check one record of the case."""
        fail = self.report.failures.append
        try:
            event = json.loads(record.decode("utf-8"), object_pairs_hook=_strict)
            version, digest = count(event["case_version"]), event["hash"]
            hex32(digest)
            prev = event["prev_hash"]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            fail(f"{where}: not an event: {exc}")
            return
        if event.get("case_id") != self.case_id:
            fail(f"{where}: an event of {event.get('case_id')!r}, not {self.case_id}")
            return
        body = {k: v for k, v in event.items() if k not in UNHASHED}
        bare = {k: v for k, v in body.items() if k != "key_id"}
        if digest not in {hashlib.sha256(canonical(b)).hexdigest() for b in (body, bare)}:
            fail(f"{where}: version {version}'s content does not match its hash")
            return
        self._signature(where, event, digest, keys, used)
        if version in self.seen:
            if self.seen[version] == digest:
                self.again += 1
            else:
                fail(f"{where}: a second, different version {version}")
            return
        if version != self.expected:
            fail(f"{where}: expected version {self.expected}, found {version}")
        elif prev != self.prev:
            fail(f"{where}: version {version} does not chain from version {version - 1}")
        self.seen[version] = digest
        self.expected, self.prev = version + 1, digest

    def _signature(
        self, where: str, event: dict[str, Any], digest: str, keys: dict[str, bytes], used: set[str]
    ) -> None:
        if "signature" not in event and "key_id" not in event:
            self.unsigned += 1
            return
        kid = event.get("key_id")
        used.add(str(kid))
        key = keys.get(str(kid))
        try:
            signature = b64url(event.get("signature"))
        except Unreadable:
            signature = b""
        if key is None or not signature_holds(key, signature, EVENT_DOMAIN + digest.encode()):
            self.report.failures.append(f"{where}: its signature by {kid} does not hold")
            return
        self.signed += 1

    def finish(self) -> None:
        """Say what the chain holds."""
        self.report.notes.append(
            f"{self.case_id}: versions 1 to {self.expected - 1} chain from genesis;"
            f" {self.signed} signed, {self.unsigned} unsigned, {self.again} redelivered"
        )


def main(argv: list[str] | None = None) -> int:
    """Check the bundle named on the command line and print what held and what did not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--pin", type=Path, help="JSON object: key id -> public key (base64url)")
    args = parser.parse_args(argv)
    try:
        pinned = json.loads(args.pin.read_text()) if args.pin else None
        report = verify(args.bundle.read_bytes(), pinned)
    except (OSError, Unreadable, json.JSONDecodeError) as exc:
        print(f"unreadable: {exc}", file=sys.stderr)
        return 2
    for note in report.notes:
        print(note)
    for failure in report.failures:
        print(f"FAILED {failure}")
    print("bundle verifies" if report.holds else f"{len(report.failures)} check(s) failed")
    return 0 if report.holds else 1


if __name__ == "__main__":
    sys.exit(main())
