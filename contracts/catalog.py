"""The registry of the ledger's services and case kinds: every other table is read from here."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Stream:
    """One case stream: its topics are `<name>.commands`, `<name>.events`, `<name>.replies`."""

    name: str
    title: str
    service: str


@dataclass(frozen=True)
class CaseType:
    """One kind of case: the prefix of its ids and where it lives."""

    prefix: str
    stream: str
    noun: str
    resource: str
    label: str


@dataclass(frozen=True)
class Service:
    """One service: its HTTP port, its entry-point module and the processes it runs."""

    name: str
    title: str
    port: int
    module: str
    # The module whose KIND decides this service's cases (None: the service decides none).
    kinds: str | None = None
    parts: tuple[str, ...] = ("api", "worker")
    # The other services' streams its reactors send commands to (its own it always may).
    reacts_into: tuple[str, ...] = ()

    @property
    def has_worker(self) -> bool:
        """Whether the service runs a stream worker beside its API."""
        return "worker" in self.parts


STREAMS: dict[str, Stream] = {
    s.name: s
    for s in (
        Stream("grievance", "Grievance intake (诉求受理)", "intake"),
        Stream("suggestion", "Democratic management (民主管理)", "suggestions"),
        Stream("dispute", "Labour-dispute mediation (劳动争议调解)", "mediation"),
        Stream("followup", "Follow-up (跟踪回访)", "followup"),
        Stream("notification", "Notifications (提醒与进度通知)", "notify"),
        Stream("library", "Case library and volunteers (以案说法·护薪)", "library"),
    )
}

# Erasures of a person's data (PIPL Art. 47): every process that holds data keys reads it.
# Not a case stream: it has no commands, no deciders and no hash chains.
PRIVACY_STREAM = Stream("privacy", "Personal data erasure (个人信息删除)", "audit")
PRIVACY_TOPIC = f"{PRIVACY_STREAM.name}.events"

# The order is that of the envelope's case-id pattern, which the published schemas carry.
CASE_TYPES: dict[str, CaseType] = {
    c.prefix: c
    for c in (
        CaseType("GRV", "grievance", "grievance", "grievances", "grievance 诉求"),
        CaseType("SUG", "suggestion", "suggestion", "suggestions", "suggestion 建议"),
        CaseType("QRY", "suggestion", "query", "queries", "query 质询"),
        CaseType("GRP", "suggestion", "group", "groups", "group 民主管理小组"),
        CaseType("DSP", "dispute", "dispute", "disputes", "dispute 调解"),
        CaseType("FUP", "followup", "follow-up", "followups", "follow-up 回访"),
        CaseType("NTF", "notification", "notification", "notifications", "notification 通知"),
        CaseType("NPF", "notification", "preference", "preferences", "preferences 通知设置"),
        CaseType("TYP", "library", "typical case", "typical-cases", "typical case 典型案例"),
        CaseType("CLS", "library", "classroom session", "classrooms", "classroom 以案说法课堂"),
        CaseType("VOL", "library", "volunteer", "volunteers", "volunteer 护薪志愿者"),
        CaseType("HLP", "library", "help request", "help", "help 护薪帮扶"),
    )
}

SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service(
            "intake",
            "Taizhang grievance intake (诉求受理)",
            8001,
            "services.intake.app",
            "services.intake.service",
        ),
        Service(
            "suggestions",
            "Taizhang democratic management (民主管理)",
            8002,
            "services.suggestions.app",
            "services.suggestions.service",
        ),
        Service(
            "mediation",
            "Taizhang labour-dispute mediation (劳动争议调解)",
            8003,
            "services.mediation.app",
            "services.mediation.service",
        ),
        Service(
            "followup",
            "Taizhang follow-up (跟踪回访)",
            8004,
            "services.followup.app",
            "services.followup.service",
            # A follow-up's outcome reopens its grievance or sends its dispute on.
            reacts_into=("grievance", "dispute"),
        ),
        Service(
            "library",
            "Taizhang case library and volunteers (以案说法·护薪)",
            8007,
            "services.library.app",
            "services.library.service",
        ),
        Service("audit", "Taizhang audit (监督审计)", 8005, "services.audit.app"),
        Service(
            "notify",
            "Taizhang notifications (提醒与进度通知)",
            8006,
            "services.notify.app",
            "services.notify.service",
        ),
        # The web portal only calls the other services' APIs: it has no stream worker.
        Service("portal", "Taizhang portal (门户)", 8000, "services.portal.app", parts=("api",)),
    )
}

# The audit service's topics: signed checkpoints of every case's head, and signed tree heads
# of every events partition's Merkle tree (one record per partition and size).
AUDIT_CHECKPOINTS = "audit.checkpoints"
AUDIT_TREE_HEADS = "audit.tree-heads"

CASE_ID_PATTERN = r"^(" + "|".join(CASE_TYPES) + r")-[0-9A-Z]{4,40}$"
CASE_ID = re.compile(CASE_ID_PATTERN)


class UnknownCase(ValueError):
    """The text is not the id of any kind of case."""


def case_type(case_id: str) -> CaseType:
    """Return the kind of case an id names; raise UnknownCase when it names none."""
    if not CASE_ID.match(case_id):
        raise UnknownCase(f"{case_id!r} is not a case id (like GRV-1A2B3C4D5E6F)")
    return CASE_TYPES[case_id.split("-", 1)[0]]


def stream_of(case_id: str) -> str:
    """Return the stream a case's events are on."""
    return case_type(case_id).stream


def service_of(case_id: str) -> Service:
    """Return the service that decides a case."""
    return SERVICES[STREAMS[stream_of(case_id)].service]


def prefixes_of(stream: str) -> tuple[str, ...]:
    """Return the case-id prefixes decided on a stream."""
    return tuple(p for p, c in CASE_TYPES.items() if c.stream == stream)
