"""Commands signed by the service that sends them, each with a key of its own, so a record
written straight to a commands topic acts as nobody, and one service cannot pose as another."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Iterable, Mapping

from contracts.catalog import SERVICES, STREAMS
from contracts.commands import CommandEnvelope
from services.common.settings import Settings
from services.common.subkeys import key_id, subkey

HEADER = "taizhang-signature"
# The two kinds of process that send commands: a service's API, and its stream worker (its
# deciders' forwards, its timers, its effects and its reactors).
PARTS = ("api", "worker")


class Forged(ValueError):
    """A command whose signature is missing, does not verify, or names a sender not allowed."""


def sender(service: str, part: str) -> str:
    """The name a process signs commands as: `intake.api`, `followup.worker`."""
    if service not in SERVICES or part not in PARTS:
        raise ValueError(f"no process {part!r} of service {service!r} sends commands")
    return f"{service}.{part}"


def writers(stream: str) -> frozenset[str]:
    """Who may write a stream's commands: its service's API and worker, and the workers of
    the services whose reactors answer into it."""
    owner = STREAMS[stream].service
    reactors = {sender(s.name, "worker") for s in SERVICES.values() if stream in s.reacts_into}
    return frozenset({sender(owner, "api"), sender(owner, "worker"), *reactors})


def canonical(meta: CommandEnvelope) -> bytes:
    """The bytes a command is signed over: every field, actor and unit included, in one order."""
    fields = meta.model_dump(mode="json")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _purpose(who: str) -> str:
    return f"commands/{who}"


def _mac(settings: Settings, who: str, version: int, meta: CommandEnvelope) -> str:
    key = subkey(settings.master_key, _purpose(who), version)
    return hmac.new(key, canonical(meta), hashlib.sha256).hexdigest()


def signature(settings: Settings, meta: CommandEnvelope, who: str) -> bytes:
    """The header value that vouches for a command: its sender's key id and the HMAC-SHA256."""
    version = settings.key_version
    return f"{key_id(_purpose(who), version)}:{_mac(settings, who, version, meta)}".encode()


def headers(settings: Settings, meta: CommandEnvelope, who: str) -> list[tuple[str, bytes]]:
    """The record headers a command is sent with, signed as the process `who`."""
    return [(HEADER, signature(settings, meta, who))]


def verify(
    settings: Settings, meta: CommandEnvelope, sent: bytes | None, allowed: Collection[str]
) -> str:
    """Return who signed a command; refuse it unless one of `allowed` signed it under this
    version's key or the one before."""
    if not sent:
        raise Forged("the command carries no signature")
    kid, _, mac = sent.decode("ascii", errors="replace").partition(":")
    purpose, _, version_text = kid.rpartition("/v")
    who = purpose.removeprefix("commands/")
    versions = (settings.key_version, settings.key_version - 1)
    if not purpose.startswith("commands/") or not version_text.isdigit():
        raise Forged(f"the command is signed with key {kid[:80]!r}, not one this ledger uses")
    version = int(version_text)
    if version < 1 or version not in versions:
        raise Forged(f"the command is signed with key {kid[:80]!r}, not one this ledger uses")
    if who not in allowed:
        raise Forged(f"the command is signed by {who[:80]!r}, which may not send it here")
    if not hmac.compare_digest(mac, _mac(settings, who, version, meta)):
        raise Forged(f"the command's signature does not verify under key {kid}")
    return who


def header_of(found: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> bytes | None:
    """Return the signature among a record's headers, however the client lists them."""
    items = found.items() if isinstance(found, Mapping) else (found or ())
    for name, value in items:
        if name == HEADER:
            return bytes(value) if value is not None else None
    return None
