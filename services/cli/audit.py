"""The `taizhang audit` commands: they ask the audit service's functions and print the answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

if TYPE_CHECKING:
    from rich.progress import Progress

from services.audit import replay
from services.audit.records import CaseIdError, LogUnreachable, NoSuchCase
from services.cli.console import (
    EXIT_BROKER,
    EXIT_FINDINGS,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    err,
    fail,
    out,
)
from services.common.settings import Settings

audit_app = typer.Typer(
    help="Replay and verify case histories from the log alone.", no_args_is_help=True
)


@contextmanager
def answering(settings: Settings) -> Iterator[None]:
    """Turn what the audit functions refuse into one line on stderr and its exit code."""
    try:
        yield
    except CaseIdError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    except (NoSuchCase, replay.NotYet) as exc:
        raise fail(str(exc), EXIT_NOT_FOUND) from exc
    except LogUnreachable as exc:
        raise fail(
            f"cannot read the log at {settings.kafka_bootstrap_servers}: {exc}", EXIT_BROKER
        ) from exc


def _progress() -> Progress:
    # Here, so that a replay starts without the progress bars.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


class Bars:
    """Shows an audit function's progress as bars on stderr, with a rate when the total is known."""

    def __init__(self, progress: Progress, width: int = 0) -> None:
        self._progress = progress
        self._width = width
        from rich.progress import TaskID

        self._task = TaskID(0)
        self._total: int | None = None
        self._done = 0
        self._started = 0.0

    def start(self, label: str, total: int | None) -> None:
        """Add a bar for a piece of work."""
        self._task = self._progress.add_task(f"{label:>{self._width}}", total=total, rate="")
        self._total, self._done, self._started = total, 0, time.perf_counter()

    def advance(self, records: int) -> None:
        """Move the bar on."""
        self._done += records
        if self._total is None:
            self._progress.update(self._task, completed=self._done)
            return
        rate = self._done / max(time.perf_counter() - self._started, 1e-6)
        self._progress.update(self._task, completed=self._done, rate=f"{rate:,.0f} events/s")

    def finish(self) -> None:
        """Fill the bar."""
        self._progress.update(self._task, completed=self._total or 0)


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError as exc:
        raise fail(
            f"--at {at!r} is not an ISO time like 2026-11-24T09:30:00+08:00", EXIT_USAGE
        ) from exc
    if moment.tzinfo is None:
        raise fail("--at needs a timezone, e.g. 2026-11-24T09:30:00+08:00", EXIT_USAGE)
    return moment


@audit_app.command("replay")
def replay_cmd(
    case_id: Annotated[str, typer.Argument(help="e.g. GRV-1A2B3C4D5E6F")],
    at: Annotated[
        str | None, typer.Option(help="show the case as the ledger had it at this time")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Rebuild a case from its events with the services' own rules: state, deadlines, actors."""
    if fmt not in ("table", "json"):
        raise fail(f"--format {fmt!r}: use table or json", EXIT_USAGE)
    settings = Settings()
    moment = _parse_at(at)
    with answering(settings):
        view = replay.replay_case(settings, case_id=case_id, at=moment)
    if fmt == "json":
        typer.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{case_id}" + (f" as of {at}" if at else ""))
    for col in ("v", "recorded", "occurred", "event", "actor", "details"):
        table.add_column(col)
    for line in view["timeline"]:
        table.add_row(
            str(line["version"]),
            line["recorded_at"][:19],
            line["occurred_at"][:19],
            line["event_type"],
            f"{line['actor']['user_id']} ({line['actor']['role']})",
            line["summary"],
        )
    out.print(table)
    out.print_json(data=view["state"])
    deadlines = view["open_deadlines"]
    out.print(
        "open deadlines: "
        + (
            ", ".join(
                f"{d['deadline']} {d['due']}" + (" (passed)" if d["passed"] else "")
                for d in deadlines
            )
            or "none"
        ),
        highlight=False,
    )
    out.print(
        "acted: "
        + ", ".join(f"{a['user_id']} ({a['role']}, {a['events']})" for a in view["actors"]),
        highlight=False,
    )
    for f in view["findings"]:
        out.print(f"[red]{f['kind']}[/red] at {f['position']}: {f['detail']}", highlight=False)


@audit_app.command("verify")
def verify_cmd(
    case_id: Annotated[str | None, typer.Argument(help="one case; omit with --all")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="every case of every service")] = False,
) -> None:
    """Check chains, versions, schemas, references, signatures and the checkpoint; name offsets."""
    from services.audit import verdicts  # here, so that a replay starts without it

    settings = Settings()
    if (case_id is None) == (not all_cases):
        raise fail("give a case id or --all", EXIT_USAGE)
    with answering(settings):
        if case_id:
            report = verdicts.verify_log(settings, case_id=case_id)
        else:
            with _progress() as progress:
                report = verdicts.verify_log(settings, meter=Bars(progress))
    verdict = report.verdict
    out.print(
        f"keys believed: {', '.join(report.believed) or 'none'};"
        f" events verified under: {', '.join(report.relied_on) or 'none'}",
        highlight=False,
    )
    if report.covered:
        out.print(
            f"{report.covered} unsigned event(s) believed as covered by the checkpoint",
            highlight=False,
        )
    if report.held is not None:
        point = report.held
        pinned = "" if report.pinned else " (by the key it carries: no audit public key here)"
        out.print(
            f"checkpoint of {point.at} at {point.position}: signature holds{pinned},"
            f" {len(point.heads)} case(s)",
            highlight=False,
        )
    elif report.newest is None:
        out.print("no signed checkpoint yet", highlight=False)
    for f in verdict.findings:
        out.print(f"[red]{f.kind}[/red] {f.case_id} at {f.position}: {f.detail}", highlight=False)
    summary = (
        f"{verdict.cases} case(s), {verdict.events} record(s), "
        f"{verdict.redeliveries} byte-identical redelivery(ies), {len(verdict.findings)} finding(s)"
    )
    out.print(summary, highlight=False)
    if not verdict.clean:
        raise typer.Exit(EXIT_FINDINGS)


@audit_app.command("lineage")
def lineage_cmd(
    case_id: Annotated[str, typer.Argument(help="any case of the family")],
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Print the tree of cases linked across services, with each link's causing event."""
    from services.audit import lineage  # here, so that a replay starts without it

    settings = Settings()
    with answering(settings):
        family = lineage.family(settings, case_id=case_id)
    tree = family.tree
    if fmt == "json":
        links = [
            {"parent": k.parent, "child": k.child, "event_type": k.event_type, "caused": k.caused}
            for k in (tree.links if tree else [])
        ]
        cases = [asdict(c) for c in family.cases]
        body = {"case_id": case_id, "cases": cases, "links": links}
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))
        return
    if fmt != "table":
        raise fail(f"--format {fmt!r}: choose table or json", EXIT_USAGE)
    status = {c.case_id: c.status for c in family.cases}
    if tree is None:
        for c in family.cases:
            out.print(f"{c.case_id} ({c.status}) ← {c.correlation_id}", highlight=False)
        return
    from rich.tree import Tree

    nodes = {tree.root: Tree(f"[bold]{tree.root}[/bold] ({status.get(tree.root)})")}
    for link in tree.links:
        cause = f" ← {link.caused}" if link.caused else " (opened in its name)"
        label = (
            f"{link.child} ({status.get(link.child)}): {link.event_type}{cause} at {link.position}"
        )
        if link.child in nodes:
            nodes[link.parent].add(f"↩ {label}")
        else:
            nodes[link.child] = nodes[link.parent].add(label)
    out.print(nodes[tree.root], highlight=False)


@audit_app.command("index")
def index_cmd(
    rebuild: Annotated[
        bool, typer.Option(help="throw the index away and rebuild it from offset 0")
    ] = False,
) -> None:
    """Bring the per-case index up to date with the log (the audit service does this live)."""
    from services.audit import indexer  # here, so that a replay starts without it

    settings = Settings()
    with answering(settings), _progress() as progress:
        done = indexer.refresh_index(settings, rebuild=rebuild, meter=Bars(progress))
    out.print(
        f"{done.added} record(s) indexed in {done.seconds:.1f}s; the index holds {done.count}",
        highlight=False,
    )


@audit_app.command("checkpoint")
def checkpoint_cmd(
    legacy: Annotated[
        bool,
        typer.Option(
            "--legacy",
            help="believe events written before signing existed (once, when signing begins)",
        ),
    ] = False,
) -> None:
    """Sign a checkpoint over every case's chain head now (refused if the log has findings)."""
    from services.audit import verdicts  # here, so that a replay starts without it

    settings = Settings()
    try:
        with answering(settings):
            signed = verdicts.sign_checkpoint(settings, legacy=legacy)
    except verdicts.LogHasFindings as exc:
        raise fail(f"{exc}; run `taizhang audit verify --all`", EXIT_FINDINGS) from exc
    out.print(
        f"checkpoint over {signed.cases} case(s) signed at {signed.position}", highlight=False
    )


@audit_app.command("public-key")
def public_key() -> None:
    """Print the public key that checkpoints are verified with (Ed25519, base64)."""
    from services.audit import checkpoint  # here, so that a replay starts without it

    typer.echo(checkpoint.public_key(Settings()))


@audit_app.command("rebuild")
def rebuild_cmd() -> None:
    """Rebuild every read model from offset 0 into a fresh store; prove it equals the live one."""
    from services.audit import rebuild  # here, so that a replay starts without it

    settings = Settings()
    with answering(settings), _progress() as progress:
        report = rebuild.rebuild_all(settings, meter=Bars(progress, width=12))
    table = Table(title="read models rebuilt from offset 0")
    for col in ("service", "table", "rows", "rebuilt digest", "live"):
        table.add_column(col)
    for r in report.results:
        for t in r.tables:
            verdict = "equal" if t.equal else ("not here" if t.live is None else "DIFFERENT")
            table.add_row(r.service, t.table, str(t.rows), t.rebuilt[:16], verdict)
    out.print(table)
    for r in report.results:
        rate = r.events / max(r.seconds, 1e-6)
        state = (
            "equals the live read model"
            if r.equal
            else (
                "differs from the live read model"
                if r.live_found
                else "has no live read model to compare"
            )
        )
        out.print(
            f"{r.service}: {r.events} event(s) in {r.seconds:.1f}s ({rate:,.0f} events/s),"
            f" {r.dead} refused; {state}",
            highlight=False,
        )
    if not report.compared:
        raise fail("no live read model was found to compare with", EXIT_FINDINGS)
    if not report.equal:
        raise typer.Exit(EXIT_FINDINGS)
