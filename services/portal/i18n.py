"""The portal's words in Chinese (the default) and English, and dates in China's time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from services.common.calendar import SHANGHAI
from services.portal import library_words
from services.portal.notice_words import NOTICE_ENUMS, NOTICE_LABELS

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

# Labels of the pages: key → (Chinese, English).
LABELS: dict[str, tuple[str, str]] = {
    "app.name": ("台账 · 工会案件台账", "Taizhang · union case ledger"),
    "app.skip": ("跳到正文", "Skip to content"),
    "lang.switch": ("English", "中文"),
    "lang.switch.label": ("切换语言", "Switch language"),
    "nav.grievances": ("职工诉求", "Grievances"),
    "nav.new_grievance": ("登记诉求", "Log a grievance"),
    "nav.suggestions": ("合理化建议", "Suggestions"),
    "nav.queries": ("质询", "Queries"),
    "nav.disputes": ("调解案件", "Mediation"),
    "nav.followups": ("跟踪回访", "Follow-ups"),
    "nav.audit": ("审计", "Audit"),
    "nav.dashboard": ("统计", "Dashboard"),
    "nav.signout": ("退出", "Sign out"),
    "signin.title": ("选择演示用户登录", "Sign in as a demo user"),
    "signin.intro": (
        "开发环境：选择一个角色和单位登录。正式环境使用单位统一身份认证。",
        "Development: pick a role and unit to sign in. Production uses the union's own sign-in.",
    ),
    "signin.as": ("登录", "Sign in"),
    "signin.refused": (
        "演示登录只在开发环境提供。",
        "Demo sign-in is offered in development only.",
    ),
    "signed_in_as": ("当前用户", "Signed in as"),
    "receipt.title": ("查询办理进度", "Follow your case"),
    "receipt.intro": (
        "请输入受理回执上的回执号和查询码（短信里也有），查看您的诉求或调解申请办到哪一步了。",
        "Type the receipt number and PIN from your receipt (or the SMS) to see where your"
        " grievance or mediation stands.",
    ),
    "receipt.number": ("回执号", "Receipt number"),
    "receipt.pin": ("查询码", "PIN"),
    "receipt.show": ("查看进度", "Show my case"),
    "receipt.privacy": (
        "这里只显示这一件事的进度，不显示任何人的姓名。查询码请勿告诉他人。",
        "Only this case is shown here, and no one's name. Keep the PIN to yourself.",
    ),
    "receipt.wrong": (
        "回执号或查询码不对，请对照回执再输一次。连续输错几次后，这张回执会暂时锁定。",
        "The receipt number or PIN is wrong; check them against the receipt. After a few"
        " wrong PINs the receipt is locked for a while.",
    ),
    "receipt.locked": (
        "尝试次数太多，这张回执已暂时锁定，请15分钟后再试，或联系工会重新获取查询码。",
        "Too many tries: the receipt is locked for now. Try again in 15 minutes, or ask the"
        " union for a new PIN.",
    ),
    "receipt.kind": ("事项", "Matter"),
    "receipt.kind.grievance": ("职工诉求", "Grievance"),
    "receipt.kind.dispute": ("劳动争议调解", "Labour-dispute mediation"),
    "receipt.opened": ("受理日期", "Received on"),
    "receipt.handled_by": ("办理", "Handled by"),
    "receipt.acceptance_due": ("受理决定期限", "Acceptance decided by"),
    "receipt.mediation_deadline": ("调解期限", "Mediation ends by"),
    "receipt.next": ("接下来", "What happens next"),
    "receipt.callback": (
        "工会将在{date}前给您打回访电话，听取您对处理结果是否满意。",
        "The union will call you by {date} to ask whether you are satisfied.",
    ),
    "receipt.overdue": (
        "已超过办理时限，工会已记录在案。",
        "A time limit has passed; it is on record.",
    ),
    "receipt.not_contacted_on": (
        "您在{date}反映过没有人联系您。",
        "On {date} you told us no one had contacted you.",
    ),
    "receipt.say": ("给工会留言", "Tell the union"),
    "receipt.note": ("留言（会加密保存）", "Your note (stored encrypted)"),
    "receipt.send": ("发送留言", "Send the note"),
    "receipt.not_contacted": ("没有人联系过我", "No one has contacted me"),
    "receipt.note_empty": ("请先写下留言。", "Write the note first."),
    "receipt.done.note": ("留言已送达，经办人会在案件中看到。", "Your note has reached the case."),
    "receipt.done.not_contacted": (
        "已记录：没有人联系过您。经办人会在案件中看到。",
        "Recorded: no one has contacted you. The case handler will see it.",
    ),
    "receipt.another": ("查询另一张回执", "Look up another receipt"),
    "receipt.worker_said": ("职工通过回执留言", "What the worker said through the receipt"),
    "slip.title": ("受理回执", "Receipt"),
    "slip.once": (
        "请把回执号和查询码交给职工（可复制下面的短信）。查询码只显示这一次。",
        "Give the worker the receipt number and PIN (copy the SMS below). The PIN is shown"
        " this once.",
    ),
    "slip.sms": ("短信内容", "SMS text"),
    "slip.copy": ("复制短信", "Copy the SMS"),
    "slip.reissue": ("重新生成查询码", "Give a new PIN"),
    "next.grievance.acknowledge": (
        "工会将在{date}前确认受理您的诉求。",
        "The union will acknowledge your grievance by {date}.",
    ),
    "next.grievance.answer": (
        "工会正在办理，将在{date}前答复处理意见。",
        "The union is on it and will give you its answer by {date}.",
    ),
    "next.grievance.answer.undated": ("工会正在办理。", "The union is working on it."),
    "next.grievance.leadership": (
        "已提交项目领导班子研究，将在{date}前作出决定。",
        "It is with the project leadership team, who decide by {date}.",
    ),
    "next.grievance.leadership.undated": (
        "已提交项目领导班子研究。",
        "It is with the leadership team.",
    ),
    "next.grievance.mediation.undated": (
        "已转劳动争议调解，调解委员会将与您联系。",
        "It went to labour-dispute mediation; the mediation committee will contact you.",
    ),
    "next.grievance.callback.undated": ("已办结。", "It is resolved."),
    "next.grievance.none.undated": ("本事项已结束。", "This matter is finished."),
    "next.dispute.acceptance": (
        "调解委员会将在{date}前决定是否受理（3个工作日内）。",
        "The mediation committee decides by {date} whether to accept it (within 3 working days).",
    ),
    "next.dispute.mediator": (
        "已受理，将指派调解员；调解应在{date}前结束（15日内）。",
        "Accepted; a mediator will be assigned. Mediation is to end by {date} (within 15 days).",
    ),
    "next.dispute.mediation": (
        "正在调解，应在{date}前结束。",
        "Mediation is under way and is to end by {date}.",
    ),
    "next.dispute.performance": (
        "已达成调解协议，应在{date}前履行；届时工会将回访核实。",
        "An agreement was reached, to be performed by {date}; the union will check with you then.",
    ),
    "next.dispute.arbitration": (
        "您可以在{date}前向劳动争议仲裁委员会申请仲裁。",
        "You may apply to the labour-dispute arbitration commission by {date}.",
    ),
    "next.dispute.arbitration.undated": (
        "您可以向劳动争议仲裁委员会申请仲裁。",
        "You may apply to the labour-dispute arbitration commission.",
    ),
    "next.grievance.acknowledge.undated": (
        "工会将尽快确认受理您的诉求。",
        "The union will acknowledge your grievance soon.",
    ),
    "next.dispute.acceptance.undated": (
        "调解委员会将在3个工作日内决定是否受理。",
        "The mediation committee decides within 3 working days whether to accept it.",
    ),
    "next.dispute.mediator.undated": (
        "已受理，将指派调解员。",
        "Accepted; a mediator will be assigned.",
    ),
    "next.dispute.mediation.undated": ("正在调解。", "Mediation is under way."),
    "next.dispute.performance.undated": (
        "已达成调解协议，等待履行。",
        "An agreement was reached and awaits performance.",
    ),
    "next.dispute.none.undated": ("本事项已结束。", "This matter is finished."),
    "field.as_of": ("截至时点", "As of"),
    "dashboard.as_of": (
        "以下数字是台账截至 {at}（北京时间）已记录的情况，之后的变化不计入。",
        "These figures are the ledger as recorded by {at} (China time);"
        " later changes are left out.",
    ),
    "nav.import": ("导入台账", "Import a ledger"),
    "import.title": ("导入Excel台账", "Import an Excel ledger"),
    "import.intro": (
        "上传本单位现有的Excel台账（.xlsx）。先核对每一行将变成什么，确认后才写入。",
        "Upload the unit's existing Excel ledger (.xlsx). You see what each row becomes"
        " first; nothing is written until you confirm.",
    ),
    "import.file": ("台账文件", "Ledger file"),
    "import.kind": ("台账类别", "Kind of ledger"),
    "import.check": ("检查（不写入）", "Check it (writes nothing)"),
    "import.dry_run_intro": (
        "以下是试导入结果：每一行将登记成的案件和办理步骤，以及无法读取的行和原因。尚未写入任何内容。",
        "This is the dry run: the case and steps each row becomes, and every row that cannot"
        " be read, with the reason. Nothing is written yet.",
    ),
    "import.rows": ("行数", "Rows"),
    "import.counts": ("可导入 {ok} 行，无法读取 {bad} 行", "{ok} to import, {bad} unreadable"),
    "import.unused": ("未使用的列", "Columns not used"),
    "import.confirm": ("确认导入", "Import it"),
    "import.done": ("导入完成。", "The ledger is imported."),
    "import.another": ("导入另一份台账", "Import another ledger"),
    "import.chairs_only": ("只有工会主席可以导入台账。", "Only a union chair imports a ledger."),
    "import.choose": ("请选择文件、单位和台账类别。", "Choose the file, the unit and the kind."),
    "import.unreadable": ("这个文件读不出台账。", "This file does not read as a ledger."),
    "import.again": (
        "找不到刚才检查的文件，请重新上传。",
        "The file checked before is gone; upload it again.",
    ),
    "field.unit": ("单位", "Unit"),
    "field.category": ("诉求类别", "Category"),
    "field.channel": ("受理渠道", "Channel"),
    "field.summary": ("诉求摘要", "Summary"),
    "field.details": ("详细情况", "Details"),
    "field.anonymous": ("匿名反映（不记录职工信息）", "Anonymous (no worker details kept)"),
    "field.complainant_name": ("职工姓名", "Worker's name"),
    "field.complainant_phone": ("联系电话", "Phone"),
    "field.encrypted": ("加密保存", "stored encrypted"),
    "field.encrypted.hint": (
        "姓名、电话和详细情况加密保存，只有本单位经办人可以查看。",
        "Name, phone and details are stored encrypted;"
        " only your unit's case handlers can read them.",
    ),
    "field.received_at": ("受理时间", "Received"),
    "field.status": ("状态", "Status"),
    "field.opened": ("登记时间", "Logged"),
    "field.time_left": ("办理时限", "Time left"),
    "field.case": ("编号", "Case"),
    "field.how": ("解决方式", "How"),
    "field.resolution": ("处理结果", "Resolution"),
    "field.owner": ("跟踪责任人", "Follow-up owner"),
    "field.due": ("完成期限", "Due date"),
    "field.decision": ("领导班子决定", "Leadership decision"),
    "field.dispute_category": ("争议类型", "Dispute type"),
    "field.note": ("反馈内容", "Feedback"),
    "field.reason": ("原因", "Reason"),
    "field.title": ("标题", "Title"),
    "field.topic": ("议题", "Topic"),
    "field.kind": ("类型", "Kind"),
    "field.content": ("内容", "Content"),
    "field.tally": ("表决情况", "Tally"),
    "field.question": ("质询问题", "Question"),
    "field.area": ("质询领域", "Area"),
    "field.addressed_to": ("被质询人", "Addressed to"),
    "field.answer": ("答复", "Answer"),
    "field.days_left": ("剩余天数", "Days left"),
    "field.deadline": ("调解期限", "Mediation deadline"),
    "field.acceptance_due": ("受理期限", "Acceptance due"),
    "field.limitation": ("仲裁时效截止", "Arbitration limitation date"),
    "field.mediator": ("调解员", "Mediator"),
    "field.sessions": ("调解次数", "Sessions"),
    "field.held_on": ("调解日期", "Held on"),
    "field.attendees": ("参加人（逗号分隔）", "Attendees (comma separated)"),
    "field.minutes": ("调解记录", "Minutes"),
    "field.days": ("延长天数", "Days"),
    "field.terms": ("协议内容", "Terms"),
    "field.amount": ("金额（元）", "Amount (yuan)"),
    "field.perform_by": ("履行期限", "Perform by"),
    "field.meeting": ("会议", "Meeting"),
    "field.member": ("成员", "Member"),
    "field.from": ("从", "From"),
    "field.to": ("至", "To"),
    "field.case_id": ("案件编号", "Case id"),
    "field.at": ("回放到", "Replay to"),
    "field.claimed": ("请求金额", "Claimed"),
    "field.employer": ("被申请单位", "Employer"),
    "field.actor": ("经办人", "By"),
    "field.overdue": ("已逾期", "Overdue"),
    "field.satisfaction": ("满意度", "Satisfaction"),
    "field.comment": ("回访记录", "Comment"),
    "action.log": ("提交登记", "Log grievance"),
    "action.acknowledge": ("确认受理", "Acknowledge"),
    "action.resolve": ("办结", "Resolve"),
    "action.escalate": ("提交领导班子", "Escalate"),
    "action.decision": ("记录决定", "Record decision"),
    "action.refer": ("转调解", "Refer to mediation"),
    "action.feedback": ("反馈职工", "Give feedback"),
    "action.close": ("结案", "Close"),
    "action.reopen": ("重新办理", "Reopen"),
    "action.withdraw": ("撤回", "Withdraw"),
    "action.vote_for": ("赞成", "For"),
    "action.vote_against": ("反对", "Against"),
    "action.vote_abstain": ("弃权", "Abstain"),
    "action.open_review": ("提交小组审议", "Open review"),
    "action.close_vote": ("结束表决", "Close the vote"),
    "action.implement": ("记录落实", "Record implementation"),
    "action.refer_leadership": ("提交领导班子", "Refer to leadership"),
    "action.leadership_response": ("记录领导答复", "Record leadership answer"),
    "action.raise": ("提出质询", "Raise query"),
    "action.answer": ("记录答复", "Record answer"),
    "action.accept_answer": ("接受答复", "Accept answer"),
    "action.reject_answer": ("不接受答复", "Reject answer"),
    "action.session": ("记录调解", "Record session"),
    "action.extend": ("延长调解期", "Extend"),
    "action.agreement": ("达成协议", "Record agreement"),
    "action.fail": ("调解不成", "Record failure"),
    "action.arbitration": ("转仲裁", "Refer to arbitration"),
    "action.accept": ("受理申请", "Accept application"),
    "action.assign": ("指派调解员", "Assign mediator"),
    "action.performed": ("协议已履行", "Agreement performed"),
    "action.breached": ("协议未履行", "Agreement breached"),
    "dispute.consent": ("双方当事人同意延长", "Both parties consent to the extension"),
    "dispute.signed": ("双方当事人和调解员已签字", "Signed by both parties and the mediator"),
    "disputes.applied": ("待受理的申请", "Applications awaiting acceptance"),
    "action.find": ("查找", "Find"),
    "action.show": ("查看", "Show"),
    "action.export": ("导出台账", "Export the ledger"),
    "action.note_progress": ("记录进展", "Note progress"),
    "action.contact": ("记录回访", "Record call-back"),
    "grievances.title": ("本单位职工诉求", "Your unit's grievances"),
    "grievances.empty": ("暂无诉求。", "No grievances yet."),
    "grievances.new.title": ("登记职工诉求", "Log a worker's grievance"),
    "grievances.logged": ("诉求已登记。", "The grievance is logged."),
    "case.timeline": ("办理经过", "Timeline"),
    "case.actions": ("下一步", "Next steps"),
    "case.done": ("已记录。", "Recorded."),
    "case.lineage": ("关联案件", "Linked cases"),
    "sla.left": ("剩 {n} 天", "{n} days left"),
    "sla.left.one": ("剩 {n} 天", "{n} day left"),
    "sla.over.one": ("逾期 {n} 天", "{n} day overdue"),
    "sla.today": ("今天到期", "due today"),
    "sla.over": ("逾期 {n} 天", "{n} days overdue"),
    "sla.none": ("—", "—"),
    "sla.ack": ("受理", "acknowledge"),
    "sla.answer": ("答复", "answer"),
    "suggestions.title": ("待审议的建议", "Suggestions awaiting review"),
    "suggestions.others": ("其他建议和管理提案", "Other suggestions and proposals"),
    "suggestions.proposals": ("管理提案（可行使否决权）", "Management proposals (veto right)"),
    "suggestions.empty": ("暂无。", "None."),
    "tally.quorum": (
        "法定人数：{q} 人（应到 {n} 人的三分之二）",
        "Quorum: {q} of {n} members (two thirds)",
    ),
    "tally.majority": (
        "通过需要全体成员过半数：{m} 票",
        "Adoption needs a majority of all members: {m} votes",
    ),
    "tally.voted": ("已投票 {v} 人", "{v} voted"),
    "tally.your_vote": ("您的表决", "Your vote"),
    "queries.title": ("质询", "Queries"),
    "queries.new": ("向管理方提出质询", "Raise a query to management"),
    "disputes.title": ("我的调解案件（按剩余天数）", "My mediation queue (by days left)"),
    "disputes.empty": ("暂无进行中的调解案件。", "No running mediations."),
    "disputes.confidential": (
        "调解保密：仅承办调解员和工会主席可见内容。",
        "Mediation is confidential: only the assigned mediator and the chair read its content.",
    ),
    "days.left": ("剩 {n} 天", "{n} days left"),
    "days.left.one": ("剩 {n} 天", "{n} day left"),
    "days.over.one": ("超期 {n} 天", "{n} day past"),
    "days.over": ("超期 {n} 天", "{n} days past"),
    "followups.title": ("跟踪回访（逾期优先）", "Follow-ups (overdue first)"),
    "followups.unavailable": (
        "跟踪回访服务暂时无法连接，请稍后再试；您填写的内容没有提交。",
        "The follow-up service cannot be reached just now; please try again shortly."
        " Nothing was sent.",
    ),
    "followups.empty": ("暂无待办的跟踪回访。", "No open follow-ups."),
    "followups.view_all": ("本单位全部", "All in my units"),
    "followups.view_mine": ("我负责的", "Mine"),
    "followups.view_overdue": ("已逾期", "Overdue"),
    "followups.note": ("进展情况", "How the matter stands"),
    "followups.callback_note": (
        "职工满意或基本满意时诉求自动结案；不满意时诉求重新办理。",
        "If the worker is satisfied or basically satisfied the grievance is closed;"
        " if not, it is reopened.",
    ),
    "followups.done_contact": (
        "回访已记录，诉求将据此结案或重新办理。",
        "Call-back recorded; the grievance will be closed or reopened accordingly.",
    ),
    "followups.done_progress": ("进展已记录。", "Progress noted."),
    "field.followup_kind": ("回访类型", "Follow-up type"),
    "field.source_case": ("所跟踪的案件", "Case followed"),
    "audit.title": ("案件审计", "Case audit"),
    "audit.find": ("按编号查找案件", "Find a case by id"),
    "audit.slider": (
        "拖动时间轴，查看案件在当时的状态",
        "Slide the timeline to see the case as it stood then",
    ),
    "audit.state_at": ("案件在 {at} 的状态", "The case as it stood at {at}"),
    "audit.chain_ok": ("哈希链完整（{n} 条记录）", "Hash chain verified ({n} events)"),
    "audit.chain_broken": (
        "哈希链有问题：{what}（位置 {pos}）",
        "Hash chain problem: {what} (at {pos})",
    ),
    "audit.chain_unknown": (
        "暂时无法核对哈希链，请稍后刷新。",
        "The hash chain cannot be checked just now; refresh shortly.",
    ),
    "audit.chain_note": (
        "由审计服务按账本原始记录逐条核对哈希、版本、格式和签名。",
        "Checked by the audit service against the ledger's own records: hashes, versions, formats,"
        " signatures.",
    ),
    "audit.chain_relied": (
        "依据的签名密钥：{keys}；签名检查点：{checkpoint}。",
        "Relied on the signing keys {keys} and the signed checkpoint {checkpoint}.",
    ),
    "audit.unavailable": (
        "审计服务暂时无法连接，请稍后再试。",
        "The audit service cannot be reached just now; please try again shortly.",
    ),
    "audit.lineage_pending": (
        "关联案件暂时查不到（审计索引可能正在更新），请稍后刷新。",
        "Linked cases cannot be listed yet (the audit index may be catching up); refresh shortly.",
    ),
    "audit.caused_by": ("由“{event}”引起", "caused by “{event}”"),
    "audit.open_deadlines": ("当时未到的期限", "Deadlines still running then"),
    "audit.format": ("文件格式", "File format"),
    "audit.export_note": (
        "每个案件一行，含下级单位；由审计服务生成。",
        "One row per case, sub-units included; built by the audit service.",
    ),
    "dashboard.title": ("统计看板", "Dashboard"),
    "dashboard.period": ("统计期间", "Period"),
    "dashboard.counts": ("建议与诉求", "Suggestions and grievances"),
    "dashboard.rates": ("办理质量", "Handling"),
    "dashboard.suggestions": ("合理化建议", "Suggestions"),
    "dashboard.grievances": ("职工诉求", "Grievances"),
    "dashboard.adopted": ("采纳", "Adopted"),
    "dashboard.adoption_rate": ("采纳率", "Adoption rate"),
    "dashboard.closure_rate": ("结案率", "Closure rate"),
    "dashboard.on_time_rate": ("按时答复率", "On-time rate"),
    "dashboard.satisfaction_rate": ("满意率", "Satisfaction rate"),
    "dashboard.no_data": ("暂无数据", "no data yet"),
    "dashboard.proposals": ("管理提案", "Proposals"),
    "dashboard.vetoes": ("否决", "Vetoed"),
    "dashboard.queries": ("质询", "Queries"),
    "dashboard.table": ("数据明细", "The numbers"),
    "dashboard.followup_title": ("跟踪回访", "Follow-ups"),
    "dashboard.followups": ("跟踪回访任务", "Follow-ups scheduled"),
    "dashboard.followups_completed": ("已完成", "Completed"),
    "dashboard.followups_overdue": ("曾逾期", "Ever overdue"),
    "dashboard.followup_closure_rate": ("回访完成率", "Follow-up closure rate"),
    "dashboard.followup_on_time_rate": ("按期回访率", "Follow-ups done on time"),
    "dashboard.followup_unavailable": (
        "跟踪回访服务暂时无法连接，回访数据稍后显示。",
        "The follow-up service cannot be reached just now; its figures will show once it is.",
    ),
    "error.title": ("未能完成", "Not done"),
    "error.401": ("登录已过期，请重新登录。", "Your sign-in has expired; please sign in again."),
    "error.403": ("您的角色不能做这一步。", "Your role cannot take this step."),
    "error.404": ("在您的单位里找不到这个案件。", "No such case in your units."),
    "error.409": (
        "案件当前状态下不能这样办理。",
        "This step is not possible in the case's current state.",
    ),
    "error.413": ("内容太长，请精简后再提交。", "That is too long; please shorten it."),
    "error.422": (
        "填写的内容有误，请检查后再提交。",
        "Something in the form is not right; please check it.",
    ),
    "error.form": (
        "这张表单已过期或不是本站的，请刷新页面后重新提交。",
        "This form has expired or is not this site's; reload the page and send it again.",
    ),
    "error.429": ("操作太频繁，请稍后再试。", "Too many requests; please wait a minute."),
    "error.503": (
        "台账暂时无法连接，您填写的内容已保留，请稍后再试。",
        "The ledger cannot be reached right now; what you typed is kept, please try again shortly.",
    ),
    "error.other": (
        "系统出了点问题，请稍后再试。",
        "Something went wrong; please try again shortly.",
    ),
    "error.detail": ("原因", "Reason"),
    "error.required": ("请填写{field}。", "Please fill in {field}."),
    "error.complainant": (
        "请填写职工姓名，或选择匿名反映。",
        "Give the worker's name, or choose anonymous.",
    ),
    "anonymous": ("匿名", "anonymous"),
    "sealed": ("[加密]", "[sealed]"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "none": ("无", "none"),
}

LABELS |= NOTICE_LABELS

# Words for the values of the contracts' vocabularies: group → value → (Chinese, English).
ENUMS: dict[str, dict[str, tuple[str, str]]] = {
    "role": {
        "worker_rep": ("职工代表", "Worker rep"),
        "group_member": ("民主管理小组成员", "Group member"),
        "union_chair": ("工会主席", "Union chair"),
        "mediator": ("调解员", "Mediator"),
        "followup_officer": ("跟踪专人", "Follow-up officer"),
        "volunteer": ("护薪志愿者", "Volunteer"),
        "auditor": ("审计", "Auditor"),
        "admin": ("系统管理员", "Administrator"),
        "system": ("系统", "System"),
    },
    "category": {
        "canteen": ("食堂", "Canteen"),
        "wages": ("工资", "Wages"),
        "safety": ("安全", "Safety"),
        "working_hours": ("工时", "Working hours"),
        "accommodation": ("住宿", "Accommodation"),
        "welfare": ("福利", "Welfare"),
        "training": ("培训", "Training"),
        "contract": ("劳动合同", "Contract"),
        "other": ("其他", "Other"),
    },
    "channel": {
        "in_person": ("当面反映", "In person"),
        "phone": ("电话", "Phone"),
        "hotline_12351": ("12351热线", "12351 hotline"),
        "app": ("手机应用", "App"),
        "mailbox": ("意见箱", "Mailbox"),
    },
    "how": {
        "on_site": ("现场解决", "On site"),
        "leadership": ("领导班子解决", "By the leadership"),
        "mediation": ("调解解决", "By mediation"),
    },
    "grievance_status": {
        "logged": ("已登记", "Logged"),
        "acknowledged": ("已受理", "Acknowledged"),
        "escalated": ("已提交领导班子", "Escalated"),
        "decided": ("已决定", "Decided"),
        "referred_to_mediation": ("已转调解", "Referred to mediation"),
        "resolved": ("已解决", "Resolved"),
        "reopened": ("重新办理", "Reopened"),
        "closed": ("已结案", "Closed"),
        "withdrawn": ("已撤回", "Withdrawn"),
    },
    "dispute_category": {
        "labour_relationship": ("确认劳动关系", "Labour relationship"),
        "contract": ("劳动合同订立、履行、变更、解除、终止", "Contract"),
        "dismissal_resignation": ("除名、辞退、辞职、离职", "Dismissal or resignation"),
        "working_hours_rest_leave": ("工作时间、休息休假", "Hours, rest and leave"),
        "social_insurance": ("社会保险", "Social insurance"),
        "welfare": ("福利", "Welfare"),
        "training": ("培训", "Training"),
        "labour_protection": ("劳动保护", "Labour protection"),
        "remuneration": ("劳动报酬", "Pay"),
        "work_injury_medical": ("工伤医疗费", "Work-injury medical costs"),
        "severance": ("经济补偿", "Severance"),
        "compensation": ("赔偿金", "Compensation"),
        "other_statutory": ("法律法规规定的其他争议", "Other statutory"),
    },
    "dispute_status": {
        "applied": ("已申请", "Applied"),
        "declined": ("不予受理", "Declined"),
        "accepted": ("已受理", "Accepted"),
        "mediating": ("调解中", "Mediating"),
        "agreement_reached": ("已达成协议", "Agreement reached"),
        "performed": ("已履行", "Performed"),
        "breached": ("未履行", "Breached"),
        "failed": ("调解不成", "Failed"),
        "deadline_passed": ("调解期满", "Deadline passed"),
        "referred_to_arbitration": ("已转仲裁", "Referred to arbitration"),
    },
    "suggestion_status": {
        "submitted": ("待审议", "Submitted"),
        "under_review": ("表决中", "Under review"),
        "no_quorum": ("未达法定人数", "No quorum"),
        "adopted": ("已采纳", "Adopted"),
        "rejected": ("未采纳", "Rejected"),
        "recommended": ("已建议", "Recommended"),
        "vetoed": ("已否决", "Vetoed"),
        "referred": ("已提交领导班子", "Referred to leadership"),
        "responded": ("领导已答复", "Leadership answered"),
        "implemented": ("已落实", "Implemented"),
    },
    "kind": {
        "suggestion": ("合理化建议", "Suggestion"),
        "management_proposal": ("管理提案", "Management proposal"),
    },
    "topic": {
        "performance_appraisal": ("绩效考核", "Performance appraisal"),
        "quality": ("质量", "Quality"),
        "safety": ("安全", "Safety"),
        "training": ("培训", "Training"),
        "welfare": ("福利", "Welfare"),
        "ideological_work": ("思想政治工作", "Ideological work"),
        "production": ("生产", "Production"),
        "other": ("其他", "Other"),
        "rule_revision": ("规章制度修订", "Rule revision"),
        "job_change": ("岗位调整", "Job change"),
        "wage_payment": ("工资支付", "Wage payment"),
        "award": ("评先评优", "Awards"),
    },
    "vote": {
        "for": ("赞成", "For"),
        "against": ("反对", "Against"),
        "abstain": ("弃权", "Abstain"),
    },
    "outcome": {
        "adopted": ("通过采纳", "Adopted"),
        "rejected": ("未通过", "Rejected"),
        "recommended": ("提出建议", "Recommended"),
        "vetoed": ("否决", "Vetoed"),
        "no_quorum": ("未达法定人数", "No quorum"),
    },
    "query_status": {
        "raised": ("待答复", "Raised"),
        "answered": ("已答复", "Answered"),
        "answer_accepted": ("答复已接受", "Answer accepted"),
        "answer_rejected": ("答复未接受", "Answer rejected"),
    },
    "query_area": {
        "performance_appraisal": ("绩效考核", "Performance appraisal"),
        "quality": ("质量", "Quality"),
        "safety": ("安全", "Safety"),
        "training": ("培训", "Training"),
        "welfare": ("福利", "Welfare"),
        "ideological_work": ("思想政治工作", "Ideological work"),
    },
    "satisfaction": {
        "satisfied": ("满意", "Satisfied"),
        "basically_satisfied": ("基本满意", "Basically satisfied"),
        "unsatisfied": ("不满意", "Unsatisfied"),
    },
    "event": {
        "grievance.logged": ("登记诉求", "Grievance logged"),
        "grievance.acknowledged": ("确认受理", "Acknowledged"),
        "grievance.resolved": ("办结", "Resolved"),
        "grievance.escalated": ("提交领导班子", "Escalated to the leadership"),
        "grievance.decision_recorded": ("领导班子作出决定", "Decision recorded"),
        "grievance.referred_to_mediation": ("转调解", "Referred to mediation"),
        "grievance.feedback_given": ("反馈职工", "Feedback given"),
        "grievance.closed": ("结案", "Closed"),
        "grievance.reopened": ("重新办理", "Reopened"),
        "grievance.withdrawn": ("撤回", "Withdrawn"),
        "grievance.dispute_linked": ("关联调解案件", "Dispute linked"),
        "grievance.overdue": ("超过办理时限", "Service level missed"),
        "grievance.receipt_issued": ("出具受理回执", "Receipt issued"),
        "grievance.worker_noted": ("职工留言", "Worker's note"),
        "dispute.receipt_issued": ("出具受理回执", "Receipt issued"),
        "dispute.worker_noted": ("职工留言", "Worker's note"),
        "dispute.applied": ("申请调解", "Applied"),
        "dispute.declined": ("不予受理", "Declined"),
        "dispute.acceptance_overdue": ("受理超期", "Acceptance overdue"),
        "dispute.accepted": ("受理", "Accepted"),
        "dispute.mediator_assigned": ("指派调解员", "Mediator assigned"),
        "dispute.session_held": ("调解", "Session held"),
        "dispute.extended": ("延长调解期", "Extended"),
        "dispute.agreement_reached": ("达成协议", "Agreement reached"),
        "dispute.performed": ("协议履行", "Performed"),
        "dispute.breached": ("协议未履行", "Breached"),
        "dispute.failed": ("调解不成", "Failed"),
        "dispute.deadline_passed": ("调解期满", "Deadline passed"),
        "dispute.referred_to_arbitration": ("转仲裁", "Referred to arbitration"),
        "suggestion.submitted": ("提交", "Submitted"),
        "suggestion.review_opened": ("开始审议", "Review opened"),
        "suggestion.vote_cast": ("投票", "Vote cast"),
        "suggestion.vote_closed": ("表决结束", "Vote closed"),
        "suggestion.implemented": ("落实", "Implemented"),
        "suggestion.referred_to_leadership": ("提交领导班子", "Referred to leadership"),
        "suggestion.leadership_responded": ("领导答复", "Leadership answered"),
        "suggestion.seat_handed_over": ("席位移交", "Seat handed over"),
        "suggestion.group_formed": ("小组成立", "Group formed"),
        "suggestion.group_member_replaced": ("成员更换", "Member replaced"),
        "suggestion.query_raised": ("提出质询", "Query raised"),
        "suggestion.query_answered": ("答复", "Answered"),
        "suggestion.query_answer_accepted": ("接受答复", "Answer accepted"),
        "suggestion.query_answer_rejected": ("不接受答复", "Answer rejected"),
        "followup.scheduled": ("安排跟踪回访", "Follow-up scheduled"),
        "followup.progress_noted": ("记录进展", "Progress noted"),
        "followup.contacted": ("回访职工", "Worker called back"),
        "followup.completed": ("回访完成", "Follow-up completed"),
        "followup.overdue": ("回访逾期", "Follow-up overdue"),
    },
    "import_kind": {
        "grievance": ("职工诉求台账", "Grievances"),
        "suggestion": ("合理化建议台账", "Suggestions"),
        "dispute": ("劳动争议调解台账", "Mediation cases"),
    },
    "note_kind": {
        "note": ("职工留言", "Worker's note"),
        "not_contacted": ("职工反映：没有人联系过我", "Worker says: no one has contacted me"),
    },
    "handled_by": {
        "union": ("工会", "The union"),
        "leadership_team": ("项目领导班子", "The project leadership team"),
        "committee": ("调解委员会", "The mediation committee"),
        "mediator": ("调解员", "A mediator"),
    },
    "followup_kind": {
        "progress": ("跟踪办理进展", "Progress tracking"),
        "callback": ("满意度回访", "Satisfaction call-back"),
        "performance_check": ("协议履行检查", "Agreement check"),
        "limitation_reminder": ("仲裁时效提醒", "Limitation reminder"),
    },
    "followup_status": {
        "open": ("待跟踪", "Open"),
        "in_progress": ("跟踪中", "In progress"),
        "completed": ("已完成", "Completed"),
    },
}
ENUMS |= NOTICE_ENUMS
# The case library's and the volunteers' words live beside their pages.
LABELS.update(library_words.LABELS)
ENUMS.update(library_words.ENUMS)

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def lang_of(value: str | None) -> Lang:
    """Return a supported language; Chinese unless English was chosen."""
    return "en" if value == "en" else "zh"


class Words:
    """The words of one language, handed to the templates."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self._i = LANGS.index(lang)

    def __call__(self, key: str, **args: object) -> str:
        """Return a label, filled in with its arguments."""
        # English counts one day, not "1 days"; Chinese has no plural.
        pair = LABELS.get(f"{key}.one") if args.get("n") == 1 else None
        pair = pair or LABELS.get(key)
        text = pair[self._i] if pair else key
        return text.format(**args) if args else text

    def enum(self, group: str, value: object) -> str:
        """Return the words for one value of a vocabulary (the raw value if unknown)."""
        if value is None:
            return "—"
        pair = ENUMS.get(group, {}).get(str(value))
        return pair[self._i] if pair else str(value)

    def date(self, value: object) -> str:
        """Format a date (or a timestamp's date in China) for this language."""
        day = _to_date(value)
        if day is None:
            return "—"
        if self.lang == "zh":
            return f"{day.year}年{day.month}月{day.day}日"
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"

    def datetime(self, value: object) -> str:
        """Format a timestamp in China's time (Asia/Shanghai) for this language."""
        moment = _to_datetime(value)
        if moment is None:
            return "—"
        local = moment.astimezone(SHANGHAI)
        return f"{self.date(local.date())} {local:%H:%M}"


def _to_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and "T" in value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _to_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        moment = _to_datetime(value)
        return moment.astimezone(SHANGHAI).date() if moment else date.fromisoformat(value)
    return None
