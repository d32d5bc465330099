"""Ids derived from what caused them, so a retried or redelivered command finds the same ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from contracts.envelope import Actor
from services.common.subkeys import key_id, subkey

COMMAND_NAMESPACE = uuid.UUID("a4d9e3f2-1b6c-5d70-8e4f-92c1b7a5d3e8")
REACTION_NAMESPACE = uuid.UUID("5e0c7a92-4f1d-5b3a-8c6e-1d9f2b7a4e50")
TIMER_NAMESPACE = uuid.UUID("0b7f5c1e-3a8d-5e21-b4c9-6d2f8e1a7c03")


def new_case_id(prefix: str, command_id: str) -> str:
    """Derive a case id from the opening command, so a retried open finds the same case."""
    digest = hashlib.sha256(command_id.encode()).digest()
    return f"{prefix}-{base64.b32encode(digest).decode()[:12]}"


def command_id_for(actor: Actor, resource: str, key: str | None) -> str:
    """Derive the command id from an Idempotency-Key, or make a fresh one."""
    if key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(COMMAND_NAMESPACE, f"{actor.user_id}\x1f{resource}\x1f{key}"))


@dataclass(frozen=True)
class Keyed:
    """A command's Idempotency-Key, as the client sent it or as assigned, and its command id."""

    key: str
    command_id: str


def keyed(actor: Actor, resource: str, key: str | None) -> Keyed:
    """Take the client's Idempotency-Key, or assign one, and derive the command id from it.

    An assigned key goes back with the answer, so a client that was not told the outcome
    asks again for the same command rather than sending a second one.
    """
    chosen = key if key is not None else str(uuid.uuid4())
    return Keyed(chosen, command_id_for(actor, resource, chosen))


FINGERPRINT_VERSION = 1


def fingerprint(master: str, *parts: Any) -> str:
    """Keyed digest of a request, to tell a true retry from a reused key (no clear data kept).

    The digest names the key it was made with, so the key can be replaced later.
    """
    data = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    key = subkey(master, "fingerprint", FINGERPRINT_VERSION)
    digest = hmac.new(key, data, hashlib.sha256).hexdigest()
    return f"{key_id('fingerprint', FINGERPRINT_VERSION)}:{digest}"


def reaction_command_id(source_event_id: str, command_type: str, case_id: str) -> str:
    """Derive the id of a command sent in answer to an event, identical on every redelivery."""
    return str(uuid.uuid5(REACTION_NAMESPACE, f"{source_event_id}/{command_type}/{case_id}"))


def timer_command_id(case_id: str, command_type: str, key: str) -> str:
    """Derive the id of a timer-issued command, so a repeated tick is answered, not re-decided."""
    return str(uuid.uuid5(TIMER_NAMESPACE, f"{case_id}/{command_type}/{key}"))
