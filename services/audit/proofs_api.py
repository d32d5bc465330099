"""HTTP routes of proofs: signed tree heads, inclusion and consistency proofs, case bundles."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.audit import proofs, treeheads
from services.audit.api import Auditor, Ctx, _problems
from services.audit.lineage import IndexNotReady
from services.audit.records import Position
from services.common.problems import Problem
from services.common.settings import Settings

router = APIRouter(prefix="/audit", tags=["audit"])

Topic = Annotated[str, Query(pattern=r"^[a-z_]+\.events$", description="e.g. grievance.events")]
Partition = Annotated[int, Query(ge=0, le=1000)]
Size = Annotated[int, Query(ge=0, le=1_000_000_000)]
# Offsets and sizes stay far inside what the index's integers hold.
MAX_OFFSET = 2**53


@contextmanager
def _unproved() -> Iterator[None]:
    """Answer a missing index and a record no signed head covers as problems."""
    try:
        with _problems():
            yield
    except IndexNotReady as exc:
        raise Problem(503, "Index not ready", str(exc)) from exc
    except proofs.NotCovered as exc:
        raise Problem(404, "Not covered", str(exc)) from exc
    except proofs.MissingKeys as exc:
        raise Problem(409, "Keys missing", str(exc)) from exc
    except treeheads.TreeHeadError as exc:
        raise Problem(503, "Audit key missing", str(exc)) from exc


def _keys(settings: Settings) -> dict[str, str]:
    return {
        kid: treeheads.b64url(treeheads.raw_public(key))
        for kid, key in treeheads.audit_keys(settings).items()
    }


@router.get("/tree-heads")
async def tree_heads(
    ctx: Ctx,
    _: Auditor,
    topic: Topic | None = None,
    partition: Annotated[int | None, Query(ge=0, le=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Return the signed tree heads kept, largest first per partition, and the audit key."""
    name = ctx.settings.topic(topic) if topic else None
    with _unproved(), proofs.opened(ctx.settings) as index:
        values = index.tree_heads(name, partition, limit)
        keys = _keys(ctx.settings)
    return {"keys": keys, "tree_heads": [json.loads(v) for v in values]}


@router.get("/proofs/inclusion")
async def inclusion(
    ctx: Ctx,
    _: Auditor,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    topic: Topic | None = None,
    partition: Annotated[int | None, Query(ge=0, le=1000)] = None,
    offset: Annotated[int | None, Query(ge=0, le=MAX_OFFSET)] = None,
    tree_size: Annotated[int | None, Query(ge=1, le=MAX_OFFSET)] = None,
) -> dict[str, Any]:
    """Prove a record is in a signed tree head: by case and version, or by its place."""
    by_case = case_id is not None and version is not None
    by_place = topic is not None and partition is not None and offset is not None
    if by_case == by_place:
        raise Problem(422, "Which record", "give case_id and version, or topic, partition, offset")
    with _unproved(), proofs.opened(ctx.settings) as index:
        if case_id is not None and version is not None:
            place = proofs.entry_of(index, case_id, version).position
        else:
            place = Position(ctx.settings.topic(str(topic)), int(str(partition)), int(str(offset)))
        proved = proofs.inclusion(index, place, tree_size)
        keys = _keys(ctx.settings)
    return {**proved.to_wire(), "keys": keys}


@router.get("/proofs/consistency")
async def consistency(
    ctx: Ctx, _: Auditor, topic: Topic, partition: Partition, first: Size, second: Size
) -> dict[str, Any]:
    """Prove the signed head of size `first` is a prefix of the signed head of size `second`."""
    name = ctx.settings.topic(topic)
    if first > second:
        raise Problem(422, "Sizes", "first must not exceed second")
    with _unproved(), proofs.opened(ctx.settings) as index:
        path = proofs.consistency(index, name, partition, first, second)
        heads = {h.tree_size: h for h in proofs.heads_of(index, name, partition)}
    return {
        "first": heads[first].to_wire(),
        "second": heads[second].to_wire(),
        "proof": [p.hex() for p in path],
    }


@router.get("/cases/{case_id}/bundle")
async def bundle(case_id: str, ctx: Ctx, _: Auditor) -> dict[str, Any]:
    """Return a case's proof bundle, as `taizhang audit prove` writes it."""
    with _unproved():
        return await asyncio.to_thread(
            proofs.prove_case, ctx.settings, case_id, _keys(ctx.settings)
        )
