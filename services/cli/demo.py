"""Demo data from the source articles, loaded over the public HTTP API (safe to load twice)."""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console

from services.common.auth import issue_token
from services.common.settings import Settings

INTAKE = "http://127.0.0.1:8001"


def _post(
    client: httpx.Client, token: str, path: str, key: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = client.post(
        f"{INTAKE}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )
    if response.status_code >= 400 and response.status_code != 409:
        raise RuntimeError(f"demo data: {path} answered {response.status_code}: {response.text}")
    result: dict[str, Any] = response.json()
    return result


def load_demo(settings: Settings, out: Console) -> None:
    """Log the seed's canteen complaint, acknowledge it and resolve it on site."""
    rep = issue_token(settings, user="rep-p01", role="worker_rep", unit="demo/co/p01")
    with httpx.Client(timeout=30) as client:
        logged = _post(
            client,
            rep,
            "/grievances",
            "demo-canteen-log",
            {
                "unit": "demo/co/p01",
                "category": "canteen",
                "summary": "食堂菜品有待改善",
                "details": "工友反映食堂菜品单一、口味偏咸，希望增加蔬菜和面食。",
                "channel": "in_person",
                "complainant": {"name": "王小林", "phone": "13800000001"},
            },
        )
        case_id = logged["case_id"]
        _post(client, rep, f"/grievances/{case_id}/acknowledge", "demo-canteen-ack", {})
        _post(
            client,
            rep,
            f"/grievances/{case_id}/resolve",
            "demo-canteen-resolve",
            {
                "how": "on_site",
                "resolution": "项目部与食堂承包方协商，每周增加两次面食和时令蔬菜。",
            },
        )
    out.print(
        f"demo data: the canteen complaint {case_id} is logged, acknowledged and resolved on site"
    )
