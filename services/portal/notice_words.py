"""The portal's words for notifications: key → (Chinese, English)."""

from __future__ import annotations

NOTICE_LABELS: dict[str, tuple[str, str]] = {
    "nav.notifications": ("我的通知", "My notifications"),
    "nav.unit_notifications": ("提醒落实", "Unit reminders"),
    "notices.title": ("我的通知与提醒", "My notifications and reminders"),
    "notices.empty": ("暂无通知。", "No notifications."),
    "notices.unavailable": (
        "通知服务暂时无法访问，请稍后再试。",
        "The notification service cannot be reached; try again shortly.",
    ),
    "notices.settings": ("通知设置", "Notification settings"),
    "notices.channels": ("接收渠道（按先后）", "Channels (first that works)"),
    "notices.quiet": ("免打扰时段（北京时间，时）", "Quiet hours (China time, hour)"),
    "notices.quiet_from": ("开始", "From"),
    "notices.quiet_to": ("结束", "To"),
    "notices.language": ("语言", "Language"),
    "notices.save": ("保存设置", "Save settings"),
    "notices.saved": ("设置已保存。", "Settings saved."),
    "notices.acknowledged": ("已确认收到。", "Marked as seen."),
    "notices.acknowledge": ("确认已阅", "Mark as seen"),
    "notices.send_at": ("发送时间", "Goes out"),
    "notices.deadline": ("相关日期", "Date"),
    "notices.outbox": ("开发环境：本机邮箱与短信网关", "Development: local mailbox and gateway"),
    "notices.outbox_link": ("查看本机邮箱与短信网关", "See the local mailbox and gateway"),
    "notices.mailbox": ("本机邮箱", "Local mailbox"),
    "notices.gateway": ("短信/企业微信网关", "SMS/WeCom gateway"),
    "notices.unit_title": ("本单位提醒发送与确认情况", "Reminders sent and seen in the unit"),
    "notices.counts": ("合计", "Totals"),
    "notices.recipient": ("接收人", "To"),
    "notices.reason": ("原因", "Reason"),
}

# Words for the values of the notification vocabularies: group → value → (Chinese, English).
NOTICE_ENUMS: dict[str, dict[str, tuple[str, str]]] = {
    "notice_status": {
        "planned": ("待发送", "Planned"),
        "sent": ("已发送", "Sent"),
        "failed": ("发送失败", "Failed"),
        "acknowledged": ("已确认", "Seen"),
        "cancelled": ("已取消", "Cancelled"),
    },
    "notice_channel": {
        "email": ("电子邮件", "E-mail"),
        "sms": ("短信", "SMS"),
        "wecom": ("企业微信", "WeCom"),
    },
    "notice_lang": {
        "zh": ("中文", "Chinese"),
        "en": ("英文", "English"),
    },
    "notice_template": {
        "acceptance_due": ("调解申请待受理", "Application to accept"),
        "mediation_due": ("调解期限将至", "Mediation deadline"),
        "owner_due": ("督办事项将到期", "Follow-up due"),
        "callback_due": ("回访将到期", "Call-back due"),
        "received": ("诉求已登记", "Complaint logged"),
        "acknowledged": ("诉求已受理", "Complaint accepted"),
        "resolved": ("诉求已办结", "Complaint resolved"),
        "callback": ("回访通知", "Call-back"),
        "dispute_received": ("调解申请已收到", "Application received"),
        "dispute_accepted": ("调解申请已受理", "Mediation accepted"),
        "session": ("调解会议", "Mediation session"),
    },
}
