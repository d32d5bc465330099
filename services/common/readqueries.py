"""A read model's queries: one case, its history, listings and statistics over its tables."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from services.common import casequery, quarantine
from services.common.decider import CaseKind
from services.common.store import Row, Store


class Queries:
    """What a read model answers, on reader connections outside any write."""

    store: Store
    kind: CaseKind[Any]

    def get(self, case_id: str) -> Row | None:
        """Return one case row, with its quarantine (JSON) if it has one."""
        rows = self.store.read(
            f"SELECT *, {quarantine.COLUMN} FROM cases WHERE case_id = ?", (case_id,)
        )
        return rows[0] if rows else None

    def quarantined(self) -> int:
        """Return how many cases this read model set aside."""
        return int(self.store.read("SELECT count(*) FROM quarantined")[0][0])

    def history(self, case_id: str) -> list[dict[str, Any]]:
        """Return a case's events as stored, oldest first."""
        rows = self.store.read(
            'SELECT body, topic, partition, "offset" FROM events WHERE case_id = ?'
            " ORDER BY case_version",
            (case_id,),
        )
        return [
            {**json.loads(r["body"]), "_position": [r["topic"], r["partition"], r["offset"]]}
            for r in rows
        ]

    def select(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run a read-only query on a reader connection (for statistics over extra tables)."""
        return self.store.read(sql, args)

    def query(
        self,
        *,
        units: Sequence[str] | None,
        filters: dict[str, Any],
        limit: int,
        offset: int,
        at_most: Mapping[str, Any] | None = None,
        order_by: str | None = None,
    ) -> tuple[int, list[Row]]:
        """Return (total, page) of cases in the given unit subtrees matching state filters.

        `at_most` bounds state fields from above (dates compare as ISO text); `order_by` sorts
        ascending by a state field, cases without it last, instead of newest first.
        """
        order = casequery.order(order_by)
        split = casequery.parts(self.store, units, filters, at_most)
        # Deep pages are cut no sooner in parts: each part would carry every row before them.
        if split is not None and offset + limit <= casequery.SHALLOW:
            return casequery.page(self.store, split, order, quarantine.COLUMN, limit, offset)
        sql_where, args = casequery.where(self.store, units, filters, at_most)
        total = self.store.read(f"SELECT count(*) FROM cases{sql_where}", args)[0][0]
        rows = self.store.read(
            f"SELECT *, {quarantine.COLUMN} FROM cases{sql_where} ORDER BY {order}"
            " LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return int(total), rows

    def states(self, *, units: Sequence[str] | None, filters: dict[str, Any]) -> list[Any]:
        """Return the state of every matching case, read page by page."""
        sql_where, args = casequery.where(self.store, units, filters, None)
        after = f"{sql_where} AND case_id > ?" if sql_where else " WHERE case_id > ?"
        out: list[Any] = []
        last, page = "", 1000
        while True:
            # Each page goes on from the last case id read: no page rereads those before it.
            rows = self.store.read(
                f"SELECT case_id, state FROM cases{after} ORDER BY case_id LIMIT ?",
                [*args, last, page],
            )
            out += [self.kind.of(r["case_id"]).state.model_validate_json(r["state"]) for r in rows]
            if len(rows) < page:
                return out
            last = rows[-1]["case_id"]
