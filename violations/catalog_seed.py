# ruff: noqa: E501  (one rule per line reads best)
"""The rule catalog of docs/domain.md (the regulations' own catalog), used by the data migration.

Kept as plain data (no model imports) so the migration stays valid when models change.
"""

REMINDER = [{"kind": "reminder"}]
WARNING = [{"kind": "warning"}]
SERIOUS = [{"kind": "serious_warning"}]
DEMERIT = [{"kind": "demerit"}]
DEMERIT_FULL = [{"kind": "demerit"}, {"kind": "forfeit_month"}, {"kind": "removal"}]
REMOVAL = [{"kind": "removal"}]

# code, title_zh, title_en, category, default sanctions, points, fine, repeat threshold, repeat sanctions
RULES = [
    ("C01", "发布不良政治倾向、反动言论", "Political / anti-state content", "content", SERIOUS, 5, 0, None, []),
    ("C02", "发布色情、赌博、病毒链接", "Pornography, gambling, malware links", "content", SERIOUS, 5, 0, None, []),
    ("C03", "暴力、恐怖、教唆犯罪内容", "Violence, terror, incitement to crime", "content", SERIOUS, 5, 0, None, []),
    ("C04", "宗教、封建迷信内容", "Religious / superstitious content", "content", WARNING, 2, 0, None, []),
    ("C05", "散布谣言、未经证实的消息", "Rumours, unverified news", "content", WARNING, 2, 0, None, []),
    ("C06", "无关商业广告(同样内容仅限一次)", "Unrelated commercial ads (same ad once at most)", "content", WARNING, 2, 0, 2, REMOVAL),
    ("C07", "传播负面、煽动性、过激性信息", "Negative, inflammatory, extreme content", "content", DEMERIT_FULL, 10, 0, None, []),
    ("C08", "上班时间发布与工作无关信息", "Off-topic content in working hours", "content", REMINDER, 0, 0, None, []),
    ("C09", "超过200字未使用链接分享", "Over 200 characters not shared as a link", "content", REMINDER, 0, 0, None, []),
    ("C10", "恶意刷屏、过多图片、大号字体", "Flooding, excessive images, oversized text", "content", WARNING, 2, 0, None, []),
    ("B01", "诋毁公司及其他部门", "Defaming the company or a department", "conduct", DEMERIT_FULL, 10, 0, None, []),
    ("B02", "侮辱、人身攻击、谩骂", "Insults, personal attacks", "conduct", DEMERIT_FULL, 10, 0, None, []),
    ("B03", "不尊重他人、故意打断发言", "Disrespect, interrupting others", "conduct", WARNING, 2, 0, None, []),
    ("B04", "拉帮结派、挑起群体争斗", "Factionalism, provoking group conflict", "conduct", DEMERIT, 10, 0, None, []),
    ("B05", "群内收送红包、电子礼券", "Giving or taking red envelopes / e-vouchers", "conduct", WARNING, 2, 0, None, []),
    ("B06", "休息时间(23:30–07:30)群聊", "Chatting in quiet hours (23:30–07:30)", "conduct", REMINDER, 0, 0, None, []),
    ("S01", "泄露业务、技术、财务等保密信息", "Leaking business, technical or financial secrets", "confidentiality", DEMERIT_FULL, 10, 0, None, []),
    ("S02", "对外转发公司文件、通知、公告", "Forwarding company documents outside", "confidentiality", DEMERIT_FULL, 10, 0, None, []),
    ("S03", "上传涉密文件、红头文件", "Uploading classified or official documents", "confidentiality", DEMERIT, 10, 0, None, []),
    ("M01", "私自拉非本公司人员入群", "Adding outsiders without approval", "membership", WARNING, 2, 0, None, []),
    ("M02", "不听从群管理、执意退群", "Leaving the group against the rules", "membership", WARNING, 2, 0, None, []),
    ("M03", "群昵称不符合实名规范", "Nickname breaks the real-name convention", "membership", REMINDER, 0, 0, 2, REMOVAL),
    ("M04", "私自成立下属群组", "Creating sub-groups without authorisation", "membership", WARNING, 2, 0, None, []),
    ("R01", "领导指令30分钟内未回复或解决", "Leader's directive not answered within 30 minutes", "responsiveness", [{"kind": "fine"}], 0, 100, None, []),
    ("R02", "对可解决的问题推诿、拖延", "Shirking or delaying a solvable issue", "responsiveness", [{"kind": "fine"}], 0, 50, None, []),
    ("R03", "通知未及时回复确认(“收到”)", "Notice not acknowledged", "responsiveness", REMINDER, 0, 0, None, []),
]  # fmt: skip


def restore_missing(sender=None, **kwargs) -> None:
    """post_migrate: put back catalog rows, the settings rows and the seeded lexicon that a ``flush`` removed.

    The data migration seeds them once; ``manage.py flush`` (seed_demo --reset, transactional tests)
    empties every table and then sends post_migrate. Only missing rows are created: HR's edits stay.
    """
    from decimal import Decimal

    from .lexicon_seed import LEXICON
    from .models import CompanySettings, DirectiveSettings, LexiconEntry, Rule
    from .models.lexicon import canonical_text

    existing = set(Rule.objects.values_list("code", flat=True))
    Rule.objects.bulk_create(
        Rule(
            code=code,
            title_zh=zh,
            title_en=en,
            category=category,
            default_sanctions=specs,
            performance_points=points,
            fine_amount=Decimal(fine),
            repeat_threshold=threshold,
            repeat_sanctions=repeat,
        )
        for code, zh, en, category, specs, points, fine, threshold, repeat in RULES
        if code not in existing
    )
    CompanySettings.objects.get_or_create(singleton=True)
    DirectiveSettings.objects.get_or_create(singleton=True)
    if not LexiconEntry.objects.exists():  # flushed: the seed again (an HR-kept lexicon is never touched)
        rules = dict(Rule.objects.values_list("code", "pk"))
        LexiconEntry.objects.bulk_create(
            [
                LexiconEntry(rule_id=rules[code], kind=kind, text=canonical_text(kind, text), note=note)
                for code, kind, text, note in LEXICON
                if code in rules
            ],
            ignore_conflicts=True,
        )
