"""The ledger's cases the bench writes: decided by the intake rules, chained, in their own unit."""

from __future__ import annotations

import itertools
from contextlib import closing
from pathlib import Path

from bench import export
from services.common.vault import Sealer, SqliteKeyVault


def test_each_case_is_a_closed_grievance_of_the_unit_chained_from_its_first_event(
    tmp_path: Path,
) -> None:
    with closing(SqliteKeyVault(tmp_path / "vault.sqlite", "m")) as vault:
        events = list(export.all_events(3, Sealer(vault, "m")))
    assert len(events) == 12 and len({e.case_id for e in events}) == 3
    first = events[:4]
    assert [e.event_type for e in first] == [
        "grievance.logged",
        "grievance.acknowledged",
        "grievance.resolved",
        "grievance.closed",
    ]
    assert [e.case_version for e in first] == [1, 2, 3, 4]
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(first))
    assert first[0].payload["unit"] == export.UNIT
    assert all(e.actor.unit == export.UNIT for e in events)
