"""The `taizhang import` commands: an existing Excel 台账 read in as back-dated history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from services.cli.console import EXIT_USAGE, fail, out
from services.common.auth import TokenError, issue_token, read_token
from services.common.settings import Settings
from services.ledgerimport import report
from services.ledgerimport.columns import parse_map
from services.ledgerimport.plans import SERVICE, Kind
from services.ledgerimport.send import Pace, send_rows
from services.ledgerimport.workbook import NotALedger, read

import_app = typer.Typer(help="Existing ledgers read in as history.", no_args_is_help=True)
KINDS: tuple[Kind, ...] = ("grievance", "suggestion", "dispute")


@import_app.command("ledger")
def import_ledger(
    file: Annotated[Path, typer.Argument(help="the ledger workbook (.xlsx)", exists=True)],
    unit: Annotated[str, typer.Option(help="the unit whose ledger it is")],
    kind: Annotated[str, typer.Option(help="grievance, suggestion or dispute")] = "grievance",
    column: Annotated[
        list[str] | None,
        typer.Option("--map", help="a header and the field it holds, as 问题描述=content"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what each row would become; write nothing")
    ] = False,
    rate: Annotated[float, typer.Option(help="commands a second at most")] = 20.0,
    bearer: Annotated[
        str | None,
        typer.Option("--token", envvar="TAIZHANG_TOKEN", help="a union chair's token"),
    ] = None,
) -> None:
    """Turn each row of a ledger into its case's commands, dated as the ledger says."""
    settings = Settings()
    if kind not in KINDS:
        raise fail(f"--kind {kind!r}: use grievance, suggestion or dispute", EXIT_USAGE)
    if not 0.1 <= rate <= 200:
        raise fail("--rate: give 0.1 to 200 commands a second", EXIT_USAGE)
    try:
        sheet = read(file, parse_map(column or []))
        token = bearer or issue_token(settings, user="chair-import", role="union_chair", unit=unit)
        actor = read_token(settings, token)
    except (NotALedger, ValueError, TokenError) as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    if actor.role != "union_chair":
        raise fail("a ledger is imported with a union chair's token", EXIT_USAGE)
    chosen: Kind = kind
    plans, unreadable = report.planned(chosen, unit, sheet)
    out.print(report.header(file.name, sheet, plans, unreadable), highlight=False)
    if dry_run:
        for line in report.dry_run(actor, chosen, plans, unreadable):
            out.print(line, highlight=False, markup=False)
        return
    base = str(getattr(settings, f"{SERVICE[chosen]}_url")).rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        httpx.Client(base_url=base, headers=headers, timeout=60) as client,
        Progress(*columns, console=out) as progress,
    ):
        task = progress.add_task("导入 import", total=len(plans))
        results = send_rows(
            client,
            actor,
            chosen,
            sheet.sha256,
            plans,
            Pace(rate),
            lambda: progress.advance(task),
        )
    for line in report.outcome(results, unreadable):
        out.print(line, highlight=False, markup=False)
