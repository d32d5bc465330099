"""The `taizhang audit` commands of proofs: a case's bundle, consistency between tree heads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from services.audit import proofs, treeheads
from services.audit.indexer import AuditSettings
from services.audit.lineage import IndexNotReady
from services.cli.audit import answering
from services.cli.console import EXIT_NOT_FOUND, EXIT_USAGE, fail, out

MAX_KEYS_BYTES = 1024 * 1024


def public_keys(settings: AuditSettings, extra: Path | None) -> dict[str, str]:
    """The audit key, and the services' keys from a file (as GET /audit/keys gives them)."""
    try:
        audit = treeheads.audit_keys(settings)
    except treeheads.TreeHeadError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    keys = {kid: treeheads.b64url(treeheads.raw_public(key)) for kid, key in audit.items()}
    if extra is not None:
        if extra.stat().st_size > MAX_KEYS_BYTES:
            raise fail(f"{extra} is over {MAX_KEYS_BYTES} bytes", EXIT_USAGE)
        try:
            named = json.loads(extra.read_text())
            more = named.get("keys", named)
            keys.update({str(k): str(v) for k, v in more.items()})
        except (ValueError, AttributeError) as exc:
            raise fail(f"{extra}: not a JSON object of key ids and keys", EXIT_USAGE) from exc
    return keys


def prove(
    case_id: Annotated[str, typer.Argument(help="e.g. GRV-1A2B3C4D5E6F")],
    output: Annotated[Path, typer.Option("-o", "--output", help="where to write the bundle")],
    keys: Annotated[
        Path | None, typer.Option(help="JSON of the services' public keys to carry along")
    ] = None,
) -> None:
    """Write a case's proof bundle: its events as written, proofs, signed tree heads, keys."""
    settings = AuditSettings()
    with answering(settings):
        try:
            bundle = proofs.prove_case(settings, case_id, public_keys(settings, keys))
        except (IndexNotReady, proofs.NotCovered) as exc:
            raise fail(str(exc), EXIT_NOT_FOUND) from exc
        except proofs.MissingKeys as exc:
            raise fail(
                f"{exc}: pass --keys (the services' keys, as published)", EXIT_USAGE
            ) from exc
    output.write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n")
    heads = ", ".join(
        f"{h['topic']}/{h['partition']} size {h['tree_size']}" for h in bundle["tree_heads"]
    )
    out.print(
        f"{len(bundle['events'])} event(s) of {case_id} proved into {heads}; written to {output}."
        " Check it anywhere with: python3 contracts/verify_bundle.py " + str(output),
        highlight=False,
    )


def consistency(
    topic: Annotated[str, typer.Argument(help="an events topic, e.g. grievance.events")],
    partition: Annotated[int, typer.Argument(min=0, max=1000)],
    first: Annotated[int, typer.Argument(min=0, help="the older head's tree size")],
    second: Annotated[int, typer.Argument(min=0, help="the newer head's tree size")],
) -> None:
    """Print the proof that one signed tree head of a partition extends an older one."""
    settings = AuditSettings()
    name = settings.topic(topic)
    with answering(settings):
        try:
            with proofs.opened(settings) as index:
                path = proofs.consistency(index, name, partition, first, second)
                heads = {h.tree_size: h for h in proofs.heads_of(index, name, partition)}
        except (IndexNotReady, proofs.NotCovered) as exc:
            raise fail(str(exc), EXIT_NOT_FOUND) from exc
    body = {
        "first": heads[first].to_wire(),
        "second": heads[second].to_wire(),
        "proof": [p.hex() for p in path],
    }
    typer.echo(json.dumps(body, indent=2))


def tree_heads(
    topic: Annotated[
        str | None, typer.Option(help="one events topic, e.g. grievance.events")
    ] = None,
    partition: Annotated[int | None, typer.Option(min=0, max=1000)] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """List the signed tree heads the audit service has published, newest first per partition."""
    settings = AuditSettings()
    try:
        with proofs.opened(settings) as index:
            name = settings.topic(topic) if topic else None
            values = index.tree_heads(name, partition, limit)
    except IndexNotReady as exc:
        raise fail(str(exc), EXIT_NOT_FOUND) from exc
    for kid, key in public_keys(settings, None).items():
        out.print(f"tree heads are checked with {kid}: {key} (base64url)", highlight=False)
    for value in values:
        head = json.loads(value)
        out.print(
            f"{head['topic']}/{head['partition']} size {head['tree_size']}"
            f" root {head['root_hash'][:16]}… at {head['timestamp']} by {head['key_id']}",
            highlight=False,
        )
