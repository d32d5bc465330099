"""Every message the service sends, in Chinese and English: short, with the receipt and the date."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.notification import Language


@dataclass(frozen=True)
class Message:
    """A message ready for its channel: a subject (for e-mail) and one short text."""

    subject: str
    text: str


# template -> language -> (subject, text); {receipt} is the case's number, {date} the date
# that matters. Worker texts name no person and no detail: the phone may be shared.
TEMPLATES: dict[str, dict[Language, tuple[str, str]]] = {
    "acceptance_due": {
        "zh": ("调解申请待受理", "【台账】调解申请{receipt}须于{date}前决定是否受理，请及时处理。"),
        "en": ("Application to accept", "Taizhang: decide on application {receipt} by {date}."),
    },
    "mediation_due": {
        "zh": (
            "调解期限将至",
            "【台账】调解案件{receipt}的调解期限为{date}，请及时结案或依法延长。",
        ),
        "en": ("Mediation deadline", "Taizhang: mediation {receipt} must end by {date}."),
    },
    "owner_due": {
        "zh": ("督办事项将到期", "【台账】您负责跟进的{receipt}须于{date}前答复，请及时办理。"),
        "en": ("Follow-up due", "Taizhang: your follow-up of {receipt} is due on {date}."),
    },
    "callback_due": {
        "zh": ("回访将到期", "【台账】诉求{receipt}的满意度回访须于{date}前完成。"),
        "en": ("Call-back due", "Taizhang: the call-back on {receipt} is due by {date}."),
    },
    "received": {
        "zh": ("诉求已登记", "【工会】您的诉求已登记，受理编号{receipt}，我们将于{date}前答复。"),
        "en": (
            "Complaint logged",
            "Union: your complaint is logged as {receipt}; answer by {date}.",
        ),
    },
    "acknowledged": {
        "zh": ("诉求已受理", "【工会】您的诉求{receipt}已受理，正在办理。"),
        "en": ("Complaint accepted", "Union: your complaint {receipt} is accepted and in hand."),
    },
    "resolved": {
        "zh": ("诉求已办结", "【工会】您的诉求{receipt}已办结，稍后将回访听取您的意见。"),
        "en": ("Complaint resolved", "Union: your complaint {receipt} is resolved; we will call."),
    },
    "callback": {
        "zh": ("回访通知", "【工会】我们将于{date}前就诉求{receipt}回访您，请保持电话畅通。"),
        "en": ("Call-back", "Union: we will call you about {receipt} by {date}."),
    },
    "dispute_received": {
        "zh": (
            "调解申请已收到",
            "【工会】您的调解申请已收到，编号{receipt}，将于{date}前决定是否受理。",
        ),
        "en": ("Application received", "Union: application {receipt} received; decided by {date}."),
    },
    "dispute_accepted": {
        "zh": ("调解申请已受理", "【工会】您的调解申请（编号{receipt}）已受理，调解期限至{date}。"),
        "en": ("Mediation accepted", "Union: mediation {receipt} is accepted; it ends by {date}."),
    },
    "session": {
        "zh": ("调解会议", "【工会】案件{receipt}已于{date}召开调解会议，结果将另行告知。"),
        "en": ("Mediation session", "Union: a session on {receipt} was held on {date}."),
    },
}


def render(template: str, language: Language, params: dict[str, str]) -> Message:
    """Fill a template in the chosen language; a missing value shows as a dash."""
    subject, text = TEMPLATES[template][language]
    values = {"receipt": "-", "date": "-", **params}
    return Message(subject=subject, text=text.format_map(values))
