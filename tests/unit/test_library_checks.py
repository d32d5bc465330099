"""A typical case's text checked against its source's sealed values, before and after erasure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.common.problems import Problem
from services.common.vault import Sealer, SqliteKeyVault
from services.library.api.typical import check_unsealed

CLEAN = "申请人（职工）被某用人单位拖欠工资一万元至五万元。"


@pytest.fixture
def sealer(tmp_path: Path) -> Sealer:
    return Sealer(SqliteKeyVault(tmp_path / "vault.sqlite", "unit-test-key"), "unit-test-key")


def state(sealer: Sealer, text: str, person: str) -> dict[str, Any]:
    sealed = [
        sealer.seal(person, "李建国"),
        sealer.seal(person, "13900000002"),
        sealer.seal("CASE-TYP-TEST0001", "演示建设集团有限公司"),
    ]
    return {
        "title": "拖欠工资案",
        "text": text,
        "lesson": "保留工资条。",
        "personal": [s.model_dump(mode="json") for s in sealed],
    }


@pytest.mark.parametrize(
    "text",
    [f"{CLEAN}李建国表示满意。", f"{CLEAN}李 建 国", "演示建设集团有限公司拖欠工资"],
)
def test_a_text_naming_the_worker_or_employer_is_refused(sealer: Sealer, text: str) -> None:
    with pytest.raises(Problem) as refused:
        check_unsealed(sealer, state(sealer, text, "PER-test0001"))
    assert refused.value.status == 422
    assert "李建国" not in refused.value.detail


def test_a_clean_text_stays_clean_after_the_worker_is_erased(sealer: Sealer) -> None:
    published = state(sealer, CLEAN, "PER-test0002")
    check_unsealed(sealer, published)
    assert sealer.erase("PER-test0002")
    check_unsealed(sealer, published)
    # The employer, sealed with the typical case, is still checked after the worker is gone.
    with pytest.raises(Problem):
        check_unsealed(sealer, {**published, "text": "演示建设集团有限公司"})
