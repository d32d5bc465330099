"""What the library keeps of the disputes and grievances it draws on, read from their events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contracts import dispute as d
from contracts import grievance as g
from contracts.envelope import Envelope
from contracts.personal import Sealed, SealedPerson
from contracts.registry import EventPayload
from services.common.foreign import Foreign
from services.common.store import Db

SCHEMA = """
CREATE TABLE IF NOT EXISTS source_cases (
    case_id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    category TEXT NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    person TEXT,
    employer TEXT,
    summary TEXT,
    texts TEXT NOT NULL DEFAULT '[]',
    claims TEXT NOT NULL DEFAULT '[]',
    agreed_fen INTEGER NOT NULL DEFAULT 0,
    performed INTEGER NOT NULL DEFAULT 0
);
"""
# The events after which a dispute is over, with the outcome they give it.
DISPUTE_ENDS: dict[type[EventPayload], str] = {
    d.DisputeDeclined: "declined",
    d.DisputePerformed: "performed",
    d.DisputeBreached: "breached",
    d.DisputeFailed: "failed",
    d.DisputeDeadlinePassed: "deadline_passed",
    d.DisputeReferredToArbitration: "referred_to_arbitration",
}


@dataclass(frozen=True)
class Source:
    """A dispute or grievance as the library knows it: its facts, personal values sealed."""

    case_id: str
    unit: str
    category: str
    closed: bool
    outcome: str | None
    person: SealedPerson | None
    employer: str | None
    # A grievance's summary (sealed, or as written before it was), or terms agreed in clear.
    summary: Sealed | str | None
    texts: tuple[Sealed, ...]
    # Each claim's description (sealed, or as written before claims were sealed) and amount.
    claims: tuple[tuple[Sealed | str, int | None], ...]
    agreed_fen: int
    performed: bool


def _text(text: Sealed | str) -> Any:
    """A text as it is kept: a sealed one as its JSON, one written in the clear as it is."""
    return text.model_dump(mode="json") if isinstance(text, Sealed) else text


def _read_text(kept: Any) -> Sealed | str:
    """A kept text back: sealed, or as written."""
    return Sealed.model_validate(kept) if isinstance(kept, dict) else str(kept)


def _kept_summary(kept: str | None) -> Sealed | str | None:
    """A kept summary back: sealed ones are kept as their JSON, text written in clear as it is."""
    if kept is None:
        return None
    try:
        value = json.loads(kept)
    except ValueError:
        return kept
    if isinstance(value, dict):
        return Sealed.model_validate(value)
    return value if isinstance(value, str) else kept


def _person(person: SealedPerson | None) -> str | None:
    return person.model_dump_json() if person is not None else None


def remember_dispute(db: Db, env: Envelope, event: EventPayload) -> None:
    """Keep a dispute's facts, and note when it closes and what was agreed."""
    if isinstance(event, d.DisputeApplied):
        texts = [t.model_dump(mode="json") for t in (event.matters, event.reasons) if t]
        claims = [[_text(c.description), c.amount_fen] for c in event.claims]
        db.execute(
            "INSERT INTO source_cases (case_id, unit, category, person, employer,"
            " texts, claims) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                env.case_id,
                event.unit,
                event.category,
                _person(event.applicant),
                event.respondent.employer if event.respondent else None,
                json.dumps(texts),
                json.dumps(claims, ensure_ascii=False),
            ),
        )
    elif isinstance(event, d.DisputeAgreementReached) and isinstance(event.terms, Sealed):
        # Sealed terms are read with the other texts, opened and anonymised when drafting.
        row = db.execute("SELECT texts FROM source_cases WHERE case_id = ?", (env.case_id,))
        for (kept,) in row:
            texts = [*json.loads(kept), _text(event.terms)]
            db.execute(
                "UPDATE source_cases SET agreed_fen = ?, texts = ? WHERE case_id = ?",
                (event.amount_fen, json.dumps(texts), env.case_id),
            )
    elif isinstance(event, d.DisputeAgreementReached):
        db.execute(
            "UPDATE source_cases SET agreed_fen = ?, summary = ? WHERE case_id = ?",
            (event.amount_fen, event.terms, env.case_id),
        )
    elif type(event) in DISPUTE_ENDS:
        outcome = DISPUTE_ENDS[type(event)]
        db.execute(
            "UPDATE source_cases SET closed = 1, outcome = ?, performed = ? WHERE case_id = ?",
            (outcome, int(outcome == "performed"), env.case_id),
        )


def remember_grievance(db: Db, env: Envelope, event: EventPayload) -> None:
    """Keep a grievance's facts, and note when it is closed."""
    if isinstance(event, g.GrievanceLogged):
        texts = [event.details.model_dump(mode="json")] if event.details else []
        db.execute(
            "INSERT INTO source_cases (case_id, unit, category, person, summary,"
            " texts) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                env.case_id,
                event.unit,
                event.category,
                _person(event.complainant),
                json.dumps(_text(event.summary), ensure_ascii=False),
                json.dumps(texts),
            ),
        )
    elif isinstance(event, g.GrievanceClosed):
        db.execute(
            "UPDATE source_cases SET closed = 1, outcome = 'closed' WHERE case_id = ?",
            (env.case_id,),
        )


def source_of(row: Any) -> Source:
    """Turn a source_cases row into a Source."""
    person = row["person"]
    return Source(
        case_id=row["case_id"],
        unit=row["unit"],
        category=row["category"],
        closed=bool(row["closed"]),
        outcome=row["outcome"],
        person=SealedPerson.model_validate_json(person) if person else None,
        employer=row["employer"],
        summary=_kept_summary(row["summary"]),
        texts=tuple(Sealed.model_validate(t) for t in json.loads(row["texts"])),
        claims=tuple((_read_text(c[0]), c[1]) for c in json.loads(row["claims"])),
        agreed_fen=int(row["agreed_fen"]),
        performed=bool(row["performed"]),
    )


# The only events of each stream the library keeps anything of.
DISPUTES = Foreign.reading(
    remember_dispute, d.DisputeApplied, d.DisputeAgreementReached, *DISPUTE_ENDS
)
GRIEVANCES = Foreign.reading(remember_grievance, g.GrievanceLogged, g.GrievanceClosed)
