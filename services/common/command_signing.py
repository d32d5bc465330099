"""Commands signed by whoever sends them inside the ledger, so a record written straight to a
commands topic acts as nobody."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping

from contracts.commands import CommandEnvelope
from services.common.settings import Settings
from services.common.subkeys import subkey

HEADER = "taizhang-signature"


class Forged(ValueError):
    """A command whose signature is missing or does not verify."""


def canonical(meta: CommandEnvelope) -> bytes:
    """The bytes a command is signed over: every field, actor and unit included, in one order."""
    fields = meta.model_dump(mode="json")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _kid(version: int) -> str:
    return f"commands/v{version}"


def _mac(settings: Settings, version: int, meta: CommandEnvelope) -> str:
    key = subkey(settings.master_key, "commands", version)
    return hmac.new(key, canonical(meta), hashlib.sha256).hexdigest()


def signature(settings: Settings, meta: CommandEnvelope) -> bytes:
    """The header value that vouches for a command: the key's id and the HMAC-SHA256."""
    version = settings.key_version
    return f"{_kid(version)}:{_mac(settings, version, meta)}".encode()


def headers(settings: Settings, meta: CommandEnvelope) -> list[tuple[str, bytes]]:
    """The record headers a command is sent with."""
    return [(HEADER, signature(settings, meta))]


def verify(settings: Settings, meta: CommandEnvelope, sent: bytes | None) -> None:
    """Refuse a command unless it is signed under this version's key or the one before."""
    if not sent:
        raise Forged("the command carries no signature")
    kid, _, mac = sent.decode("ascii", errors="replace").partition(":")
    for version in (settings.key_version, settings.key_version - 1):
        if version >= 1 and kid == _kid(version):
            if hmac.compare_digest(mac, _mac(settings, version, meta)):
                return
            raise Forged(f"the command's signature does not verify under key {kid}")
    raise Forged(f"the command is signed with key {kid!r}, not one this ledger uses")


def header_of(found: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> bytes | None:
    """Return the signature among a record's headers, however the client lists them."""
    items = found.items() if isinstance(found, Mapping) else (found or ())
    for name, value in items:
        if name == HEADER:
            return bytes(value) if value is not None else None
    return None
