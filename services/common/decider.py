"""How any service turns one command record into events: pure, so it can be tested without Kafka."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.commands import CommandEnvelope, Refusal, Reply
from contracts.envelope import GENESIS_HASH, Envelope, derive_event_id, seal_envelope
from contracts.registry import REGISTRY, EventPayload, payload_dict
from services.common.answers import Memory, may_be_forgotten, remember
from services.common.domain import Command, Forward, Refused
from services.common.units import within

S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class CaseKind(Generic[S]):
    """Everything the shared machinery needs to know about one kind of case."""

    stream: str
    prefix: str
    commands: Mapping[str, type[BaseModel]]
    state: type[S]
    decide: Callable[[S | None, Command[object]], list[EventPayload] | Forward]
    evolve: Callable[[S | None, Envelope, EventPayload], S]
    due: Callable[[S, datetime], list[tuple[str, dict[str, Any]]]] = field(
        default=lambda _s, _now: []
    )
    # Other kinds of case decided on the same stream, each with its own prefix and rules.
    variants: tuple[CaseKind[Any], ...] = ()

    def of(self, case_id: str) -> CaseKind[Any]:
        """Return the kind (this one or a variant) whose prefix the case id carries."""
        for kind in (self, *self.variants):
            if case_id.startswith(f"{kind.prefix}-"):
                return kind
        raise KeyError(f"case {case_id} is not a {'/'.join(self.prefixes)} case")

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Every case-id prefix decided on this stream."""
        return (self.prefix, *(k.prefix for k in self.variants))

    def owns(self, case_id: str) -> bool:
        """Return whether a case id belongs to this kind or one of its variants."""
        return any(case_id.startswith(f"{p}-") for p in self.prefixes)

    def parse_command(self, meta: CommandEnvelope) -> Command[object]:
        """Return the command with its payload typed; raise ValidationError or KeyError."""
        model = self.commands[meta.command_type]
        return Command(meta=meta, payload=model.model_validate(meta.payload))

    def replay(self, events: list[Envelope]) -> BaseModel | None:
        """Fold enveloped events into the case state with the evolve of the case's kind."""
        if not events:
            return None
        kind = self.of(events[0].case_id)
        state: BaseModel | None = None
        for env in events:
            state = kind.evolve(state, env, REGISTRY.read(env))
        return state


class Head(BaseModel):
    """What the decider keeps per case: position in the chain, state, and commands answered."""

    version: int = 0
    hash: str = GENESIS_HASH
    state: dict[str, Any] | None = None
    answered: dict[str, tuple[str, dict[str, Any]]] = {}
    # When each command remembered was issued, and the latest issue time of one forgotten.
    answered_on: dict[str, datetime] = {}
    forgotten: datetime | None = None

    def memory(self) -> Memory:
        """Return what the case remembers of the commands it answered."""
        return Memory(self.answered, self.answered_on, self.forgotten)


@dataclass(frozen=True)
class Outcome:
    """The result of deciding one command: events to append, the new head, the reply.

    A command handed on to another case carries that case's command in `forward`; its reply
    then comes from that case, under the same command id, and `reply` is not sent.
    """

    events: list[Envelope]
    head: Head
    reply: Reply
    forward: CommandEnvelope | None = None


def refusal(meta: CommandEnvelope, status: int, title: str, detail: str) -> Reply:
    """Build a negative reply."""
    return Reply(
        command_id=meta.command_id,
        case_id=meta.case_id,
        ok=False,
        refusal=Refusal(status=status, title=title, detail=detail),
    )


def same_key_family(stored: str, sent: str) -> bool:
    """Whether two fingerprints were made with the same key, so that differing means a new body.

    One kept from before fingerprints named their key cannot be compared with one made now:
    the retry is answered as the command was, which doubles nothing.
    """
    return stored.split(":", 1)[0] == sent.split(":", 1)[0] if ":" in stored else False


def process(stream_kind: CaseKind[S], head: Head, meta: CommandEnvelope) -> Outcome:
    """Decide one command against a case head, deterministically."""
    kind = stream_kind.of(meta.case_id)
    if meta.command_id in head.answered:
        fingerprint, stored = head.answered[meta.command_id]
        if fingerprint != meta.fingerprint and same_key_family(fingerprint, meta.fingerprint):
            reply = refusal(
                meta,
                409,
                "Idempotency key reused",
                "this Idempotency-Key was already used for a different request",
            )
        else:
            reply = Reply.model_validate(stored)
        return Outcome(events=[], head=head, reply=reply)
    if may_be_forgotten(head.memory(), meta.command_id, meta.issued_at):
        return Outcome(
            [],
            head,
            refusal(
                meta,
                409,
                "Command too old",
                f"{meta.case_id} no longer remembers the commands it answered up to"
                f" {head.forgotten:%Y-%m-%d %H:%M:%S} UTC, and this one was issued before:"
                " if it was sent then, it was carried out; reload the case",
            ),
        )
    if meta.expected_version is not None and meta.expected_version != head.version:
        return Outcome(
            [],
            head,
            refusal(
                meta,
                409,
                "Version conflict",
                f"{meta.case_id} is at version {head.version}, not {meta.expected_version};"
                " reload it and try again",
            ),
        )
    state = kind.state.model_validate(head.state) if head.state is not None else None
    unit = getattr(state, "unit", None)
    if unit and meta.actor.role not in ("system", "auditor") and not within(meta.actor.unit, unit):
        return Outcome(
            [], head, refusal(meta, 404, "Not found", f"no case {meta.case_id} in your units")
        )
    try:
        cmd = kind.parse_command(meta)
        decided = kind.decide(state, cmd)
        if isinstance(decided, Forward):
            return _forwarded(stream_kind, head, meta, decided)
    except Refused as exc:
        return Outcome([], head, refusal(meta, exc.status, exc.title, exc.detail))
    except (ValidationError, KeyError) as exc:
        return Outcome([], head, refusal(meta, 422, "Invalid command", str(exc)))
    return _appended(kind, head, meta, state, decided)


def _forwarded(
    stream_kind: CaseKind[Any], head: Head, meta: CommandEnvelope, forward: Forward
) -> Outcome:
    """Hand a command on to another case of the stream, keeping everything that identifies it.

    The same command id, fingerprint, actor, clocks, lineage and reply flag make the other
    case answer the original caller, and answer a redelivery from its memory of commands.
    """
    stream_kind.of(forward.case_id)
    command = CommandEnvelope.model_validate(
        {
            **meta.model_dump(mode="json"),
            "case_id": forward.case_id,
            "command_type": forward.command_type,
            "payload": forward.payload.model_dump(mode="json"),
            "expected_version": forward.expected_version,
        }
    )
    reply = Reply(command_id=meta.command_id, case_id=forward.case_id, ok=True)
    return Outcome(events=[], head=head, reply=reply, forward=command)


def _appended(
    kind: CaseKind[Any],
    head: Head,
    meta: CommandEnvelope,
    state: BaseModel | None,
    payloads: list[EventPayload],
) -> Outcome:
    """Seal the decided events onto the case's chain and remember the command as answered."""
    events: list[Envelope] = []
    prev, version = head.hash, head.version
    for index, payload in enumerate(payloads):
        version += 1
        env = seal_envelope(
            event_id=derive_event_id(meta.command_id, index),
            event_type=payload.event_type,
            schema_version=payload.schema_version,
            case_id=meta.case_id,
            case_version=version,
            occurred_at=meta.occurred_at,
            recorded_at=meta.issued_at,
            actor=meta.actor,
            correlation_id=meta.correlation_id,
            causation_id=meta.causation_id,
            payload=payload_dict(payload),
            prev_hash=prev,
        )
        state = kind.evolve(state, env, payload)
        events.append(env)
        prev = env.hash
    reply = Reply(
        command_id=meta.command_id,
        case_id=meta.case_id,
        ok=True,
        version=version,
        event_ids=[str(e.event_id) for e in events],
    )
    answer = (meta.fingerprint, reply.model_dump(mode="json"))
    memory = remember(head.memory(), meta.command_id, answer, meta.issued_at)
    new_head = Head(
        version=version,
        hash=prev,
        state=state.model_dump(mode="json") if state is not None else None,
        answered=memory.answered,
        answered_on=memory.issued,
        forgotten=memory.forgotten,
    )
    return Outcome(events=events, head=new_head, reply=reply)
