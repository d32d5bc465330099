"""A receipt as the rep hands it over: number, PIN and the text of an SMS, in an answer."""

from __future__ import annotations

from pydantic import BaseModel

from services.common.bodies import CommandResult
from services.common.context import ServiceContext
from services.common.receipts import Slip, kind_of

WHAT = {"GRV": ("诉求", "grievance"), "DSP": ("调解申请", "application for mediation")}


class ReceiptSlip(BaseModel):
    """What the worker is told once: the receipt number, the PIN and where to follow the case."""

    number: str
    pin: str
    url: str
    sms_zh: str
    sms_en: str


class OpenedResult(CommandResult):
    """What a command that opens a case with a receipt returns."""

    receipt: ReceiptSlip


def receipt_view(ctx: ServiceContext, slip: Slip) -> dict[str, str]:
    """Render a slip with the SMS a rep copies to the worker, Chinese first."""
    url = f"{ctx.settings.portal_url.rstrip('/')}/receipt"
    zh, en = WHAT[kind_of(slip.number)]
    return ReceiptSlip(
        number=slip.number,
        pin=slip.pin,
        url=url,
        sms_zh=f"【工会台账】您的{zh}已受理。回执号 {slip.number}，查询码 {slip.pin}。"
        f"请在 {url} 输入回执号和查询码查看办理进度。查询码请勿告诉他人。",
        sms_en=f"Your {en} has been received. Receipt {slip.number}, PIN {slip.pin}."
        f" Follow it at {url}. Keep the PIN to yourself.",
    ).model_dump()
