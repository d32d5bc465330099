"""HTTP routes of typical cases (典型案例): propose, edit, review, publish, search."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from contracts import library as lib
from contracts.envelope import Actor
from contracts.personal import ERASED, Sealed
from services.common import quarantine
from services.common.auth import READ_ALL
from services.common.bearer import CurrentActor
from services.common.bodies import Body, Moment, Transition
from services.common.commands import Opening, Verb, command_routes
from services.common.context import Ctx, ServiceContext
from services.common.problems import Problem
from services.common.queries import Page, Skip, case_view, history_route
from services.common.units import within
from services.common.vault import Sealer
from services.library.anonymise import value_leaks
from services.library.api import readable_row, source
from services.library.domain.typical import PROPOSERS, TYPICAL_PREFIX
from services.library.drafting import Facts, draft, roles_for

router = APIRouter(prefix="/typical-cases", tags=["typical cases"])
Tag = Annotated[str, lib.Tag]
Article = Annotated[str, lib.Article]
# Fields only the auditor sees: where a typical case came from, and the values it is checked by.
LINEAGE = ("source_case_id",)
HIDDEN = ("personal",)


def _claims(
    ctx: ServiceContext, kept: Sequence[tuple[Sealed | str, int | None]]
) -> list[tuple[str, int | None]]:
    """The source's claims opened for drafting; an erased description leaves only its amount."""
    opened = []
    for what, fen in kept:
        text = ctx.sealer.open(what) if isinstance(what, Sealed) else what
        opened.append((text if text and text != ERASED else "请求事项", fen))
    return opened


def _summary(ctx: ServiceContext, kept: Sealed | str | None) -> str | None:
    """The source's summary opened for drafting, to be anonymised with the rest; none if erased."""
    text = ctx.sealer.open(kept) if isinstance(kept, Sealed) else kept
    return text if text and text != ERASED else None


class ProposeBody(Body):
    """A closed dispute or grievance proposed as a typical case."""

    unit: str = Field(min_length=1, max_length=256)
    source_case_id: str = Field(pattern=r"^(GRV|DSP)-[0-9A-Z]{4,40}$")
    proposed_at: Moment | None = None


class EditBody(Transition):
    title: str = lib.Short
    text: str = Field(min_length=1, max_length=20000)
    lesson: str = Field(min_length=1, max_length=20000)
    articles: list[Article] = Field(min_length=1, max_length=20)
    tags: list[Tag] = Field(default=[], max_length=20)


class ReviewBody(Transition):
    note: str | None = Field(default=None, max_length=2000)


class ReturnBody(Transition):
    note: str = Field(min_length=1, max_length=2000)


class AppointBody(Transition):
    reviewer: str = lib.UserId


def _proposed(ctx: ServiceContext, case_id: str, body: ProposeBody) -> lib.Propose:
    """Draft the anonymised text from the source, and carry its personal values sealed."""
    found = source(ctx, body.source_case_id)
    if found is None or not within(body.unit, found.unit):
        raise Problem(422, "Unknown source", f"no case {body.source_case_id} in {body.unit}")
    if not found.closed:
        raise Problem(
            409, "Source still open", f"{body.source_case_id} is not closed yet; propose it then"
        )
    name = phone = None
    if found.person is not None:
        name = ctx.sealer.open(found.person.name)
        phone = ctx.sealer.open(found.person.phone)
    texts = [t for t in (ctx.sealer.open(s) for s in found.texts) if t and t != ERASED]
    roles = roles_for(
        name if name != ERASED else None, phone if phone != ERASED else None, found.employer
    )
    title, text = draft(
        Facts(
            category=found.category,
            outcome=found.outcome,
            summary=_summary(ctx, found.summary),
            texts=texts,
            claims=_claims(ctx, found.claims),
            agreed_fen=found.agreed_fen,
            roles=roles,
        )
    )
    personal: list[Sealed] = []
    if found.person is not None:
        personal.append(found.person.name)
        if found.person.phone is not None:
            personal.append(found.person.phone)
    if found.employer:
        # The employer is named in the clear on a dispute; here it is sealed with the case.
        personal.append(ctx.sealer.seal(f"CASE-{case_id}", found.employer))
    return lib.Propose(
        unit=body.unit,
        source_case_id=body.source_case_id,
        category=found.category,
        title=title,
        draft=text,
        personal=tuple(personal),
    )


def check_unsealed(sealer: Sealer, state: dict[str, Any]) -> None:
    """Refuse a text holding any personal value sealed on its source (erased ones are gone)."""
    values = [sealer.open(Sealed.model_validate(s)) for s in state.get("personal", [])]
    present = [v for v in values if v and v != ERASED]
    text = "\n".join((state["title"], state["text"], state.get("lesson") or ""))
    if value_leaks(text, present):
        raise Problem(
            422,
            "Personal data in the text",
            "the text still names someone from the source case (the worker's name or phone,"
            " or the employer); replace each by its role (申请人, 某用人单位) and edit again",
        )


def _published(ctx: ServiceContext, row: Any, _body: Transition) -> lib.Publish:
    check_unsealed(ctx.sealer, json.loads(row["state"]))
    return lib.Publish()


command_routes(
    router,
    opening=Opening(
        name="propose_typical_case",
        description="Propose a closed dispute or grievance as a typical case: the ledger drafts"
        " an anonymised text.",
        command="propose",
        body=ProposeBody,
        prefix=TYPICAL_PREFIX,
        payload=_proposed,
        what="propose typical cases",
        occurred_at="proposed_at",
    ),
    verbs=[
        Verb(
            "edit",
            "edit",
            "Edit the draft and add the lesson, the legal basis (articles) and tags.",
            EditBody,
            lambda _ctx, _row, b: lib.Edit(
                title=b.title,
                text=b.text,
                lesson=b.lesson,
                articles=tuple(b.articles),
                tags=tuple(b.tags),
            ),
        ),
        Verb(
            "approve",
            "approve",
            "Approve the edited text (a second person: the unit's chair).",
            ReviewBody,
            lambda _ctx, _row, b: lib.Approve(note=b.note),
            optional=True,
        ),
        Verb(
            "return",
            "return",
            "Send the text back to its proposer with what to change.",
            ReturnBody,
            lambda _ctx, _row, b: lib.Return(note=b.note),
            name="return_typical_case",
        ),
        Verb(
            "appoint-reviewer",
            "appoint_reviewer",
            "Appoint a reviewer besides the unit's chair (the auditor).",
            AppointBody,
            lambda _ctx, _row, b: lib.AppointReviewer(reviewer=b.reviewer),
            roles=("auditor",),
            auditors=True,
        ),
        Verb(
            "publish",
            "publish",
            "Publish the approved text, once it is checked against the source's personal data.",
            Transition,
            _published,
            optional=True,
        ),
    ],
    prefix=TYPICAL_PREFIX,
)


def typical_view(row: Any, actor: Actor) -> dict[str, Any]:
    """A typical case as the caller may see it: its source only for the auditor."""
    view = case_view(row)
    for key in HIDDEN:
        view.pop(key, None)
    if actor.role not in READ_ALL:
        for key in LINEAGE:
            view.pop(key, None)
    return view


def _may_see_drafts(actor: Actor, unit: str) -> bool:
    return actor.role in READ_ALL or (actor.role in PROPOSERS and within(actor.unit, unit))


@router.get("")
async def search_typical_cases(
    ctx: Ctx,
    actor: CurrentActor,
    category: Annotated[str | None, Query(max_length=200)] = None,
    article: Annotated[str | None, Query(max_length=120)] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    drafts: bool = False,
    limit: Page = 50,
    offset: Skip = 0,
) -> dict[str, Any]:
    """Search published typical cases on the caller's branch by category, article and tag.

    With `drafts`, proposers and reviewers see the unpublished cases of their units instead.
    """
    if drafts and actor.role not in (*PROPOSERS, *READ_ALL):
        raise Problem(403, "Forbidden", f"a {actor.role} reads published typical cases only")
    unit = actor.unit.rstrip("/")
    everyone = int(actor.role in READ_ALL)
    if drafts:
        # Drafts stay within the proposers' and reviewers' own units.
        where = ["status != 'published'", "(? = 1 OR unit = ? OR unit LIKE ?)"]
        args: list[Any] = [everyone, unit, f"{unit}/%"]
    else:
        where = [
            "status = 'published'",
            "(? = 1 OR unit = ? OR unit LIKE ? OR ? LIKE unit || '/%')",
        ]
        args = [everyone, unit, f"{unit}/%", unit]
    where += [
        "case_id LIKE 'TYP-%'",
        "(? IS NULL OR json_extract(state, '$.category') = ?)",
        "(? IS NULL OR EXISTS (SELECT 1 FROM json_each(state, '$.articles')"
        " WHERE instr(value, ?) > 0))",
        "(? IS NULL OR EXISTS (SELECT 1 FROM json_each(state, '$.tags') WHERE value = ?))",
    ]
    args += [category, category, article, article, tag, tag]
    clause = " AND ".join(where)
    total = ctx.model.select(f"SELECT COUNT(*) FROM cases WHERE {clause}", args)[0][0]
    rows = ctx.model.select(
        f"SELECT *, {quarantine.COLUMN} FROM cases WHERE {clause}"
        " ORDER BY opened_at DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": [typical_view(r, actor) for r in rows],
    }


@router.get("/{case_id}")
async def get_typical_case(case_id: str, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Return one typical case: published ones to the branch, drafts to its proposers."""
    row = readable_row(ctx, actor, case_id, TYPICAL_PREFIX)
    if row["status"] != "published" and not _may_see_drafts(actor, row["unit"]):
        raise Problem(404, "Not found", f"no typical case {case_id} in your units")
    return typical_view(row, actor)


def _auditor_only(actor: Actor, _row: Any) -> None:
    if actor.role not in READ_ALL:
        raise Problem(
            403, "Forbidden", "a typical case's history names its source: the auditor reads it"
        )


history_route(
    router,
    "typical_case_history",
    "Return the typical case's events as recorded, its source named (the auditor's lineage).",
    prefix=TYPICAL_PREFIX,
    guard=_auditor_only,
)
