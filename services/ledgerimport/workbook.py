"""Reading a ledger workbook: its header (merged cells, a title above, sub-headers) and rows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from services.ledgerimport.columns import FIELDS, field_of

# A header is found among the first rows; a sheet bigger than this is not a union's ledger.
HEADER_WITHIN = 10
MAX_ROWS = 20_000
MAX_BYTES = 20 * 1024 * 1024


class NotALedger(ValueError):
    """The file is not a workbook with a ledger's header."""


@dataclass(frozen=True)
class Sheet:
    """A ledger's rows: each the spreadsheet row number and its values by field."""

    sha256: str
    columns: dict[int, str]
    rows: list[tuple[int, dict[str, Any]]]
    unknown: list[str]


def sha256_of(path: Path) -> str:
    """Return the SHA-256 of a file, which names it in the events it becomes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(path: Path, column_map: dict[str, str] | None = None) -> Sheet:
    """Read the first sheet: find the header, name each column's field, keep non-blank rows."""
    if path.stat().st_size > MAX_BYTES:
        raise NotALedger(f"{path.name} is over {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        book = load_workbook(path, data_only=True)
    except Exception as exc:  # whatever the bytes are, the answer is "not a workbook"
        raise NotALedger(f"{path.name} is not an xlsx workbook: {exc}") from exc
    sheet = book.worksheets[0]
    grid = _filled(sheet)
    mapping = column_map or {}
    header_at = next(
        (i for i, row in enumerate(grid[:HEADER_WITHIN]) if _known(row, mapping) >= 2), None
    )
    if header_at is None:
        raise NotALedger(
            f"no header among the first {HEADER_WITHIN} rows: expected columns such as"
            f" {'、'.join(FIELDS['seq'][:1] + FIELDS['date'][:1] + FIELDS['content'][:2])}"
        )
    header = grid[header_at]
    below = grid[header_at + 1] if header_at + 1 < len(grid) else []
    first_data = header_at + 1
    if _known(below, mapping) >= 2:
        # A second header row names the columns under a merged group heading.
        header = [
            sub if sub not in (None, "") else top for top, sub in zip(header, below, strict=False)
        ]
        first_data += 1
    columns: dict[int, str] = {}
    unknown: list[str] = []
    for index, title in enumerate(header):
        if title in (None, ""):
            continue
        name = field_of(str(title), mapping)
        if name is None:
            unknown.append(str(title).strip())
        elif name not in columns.values():
            columns[index] = name
    rows: list[tuple[int, dict[str, Any]]] = []
    for offset, values in enumerate(grid[first_data:]):
        if len(rows) >= MAX_ROWS:
            raise NotALedger(f"more than {MAX_ROWS} rows: split the ledger")
        record = {name: values[i] for i, name in columns.items() if i < len(values)}
        if all(v in (None, "") or (isinstance(v, str) and not v.strip()) for v in record.values()):
            continue
        rows.append((first_data + offset + 1, record))
    return Sheet(sha256=sha256_of(path), columns=columns, rows=rows, unknown=unknown)


def _filled(sheet: Any) -> list[list[Any]]:
    """The sheet's values, each merged range holding its top-left value in every cell."""
    grid = [list(row) for row in sheet.iter_rows(values_only=True)]
    for merged in sheet.merged_cells.ranges:
        value = sheet.cell(merged.min_row, merged.min_col).value
        for r in range(merged.min_row, min(merged.max_row, len(grid)) + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                row = grid[r - 1]
                while len(row) < c:
                    row.append(None)
                row[c - 1] = value
    return grid


def _known(row: list[Any], mapping: dict[str, str]) -> int:
    return len({field_of(str(v), mapping) for v in row if v not in (None, "")} - {None})
