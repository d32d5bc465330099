"""What an import says: the rows it read, what each becomes or became, and what it could not."""

from __future__ import annotations

from contracts.envelope import Actor
from services.ledgerimport.plans import Kind, Plan, Unreadable, plan_row
from services.ledgerimport.send import RowResult, case_id_of
from services.ledgerimport.workbook import Sheet


def planned(kind: Kind, unit: str, sheet: Sheet) -> tuple[list[Plan], list[Unreadable]]:
    """Plan every row; rows with a serial number already seen are refused, not merged."""
    plans: list[Plan] = []
    unreadable: list[Unreadable] = []
    seen: dict[str, int] = {}
    for row, cells in sheet.rows:
        plan = plan_row(kind, unit, row, cells)
        if isinstance(plan, Unreadable):
            unreadable.append(plan)
        elif plan.row_key in seen:
            unreadable.append(Unreadable(row, f"its 序号 repeats row {seen[plan.row_key]}'s"))
        else:
            seen[plan.row_key] = row
            plans.append(plan)
    return plans, unreadable


def header(name: str, sheet: Sheet, plans: list[Plan], unreadable: list[Unreadable]) -> str:
    """The first lines: the file, its columns, and how many rows read."""
    fields = "、".join(sheet.columns.values())
    lines = [
        f"{name} · SHA-256 {sheet.sha256}",
        f"columns: {fields}",
        f"{len(plans)} row(s) to import, {len(unreadable)} unreadable",
    ]
    if sheet.unknown:
        lines.append(f"columns not used: {'、'.join(sheet.unknown)} (give --map header=field)")
    return "\n".join(lines)


def dry_run(actor: Actor, kind: Kind, plans: list[Plan], unreadable: list[Unreadable]) -> list[str]:
    """One line per row: the case and the commands it would become, or why it cannot be read."""
    lines = [
        f"row {p.row} → {case_id_of(actor, kind, p)} {p.received} · "
        + " · ".join(["open", *(s.label for s in p.steps)])
        for p in plans
    ]
    lines += [f"row {u.row} ✗ {u.reason}" for u in unreadable]
    return lines


def outcome(results: list[RowResult], unreadable: list[Unreadable]) -> list[str]:
    """What the import did: new events per row, refusals, and the rows it could not read."""
    added = sum(r.added for r in results)
    unchanged = sum(1 for r in results if r.added == 0 and not r.refused)
    lines = [
        f"{len(results)} row(s) sent: {added} new event(s), {unchanged} row(s) already as imported"
    ]
    for r in results:
        for label, reason in r.refused:
            lines.append(f"row {r.row} {r.case_id} {label}: {reason}")
    lines += [f"row {u.row} ✗ {u.reason}" for u in unreadable]
    return lines
