"""The HR-editable lexicon of the keyword rules: words, simple wildcard patterns and link domains.

Each entry belongs to one catalog rule (C01–C05 content, C06 advertising, S01 secrets, B02
insults …). ``text`` is stored in its match form (``violations.detection.text``): a word as
``normalise`` makes it, so "加 微 信" and "加微信" are one entry; a pattern the same with its
wildcards kept; a domain as its bare host. Entries are deactivated rather than deleted once used.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..choices import LexiconKind

WILDCARD_SPAN = 8  # a ``*`` stands for up to this many characters (after normalising)
MAX_WILDCARDS = 4
# The rules a lexicon entry may belong to: the content, conduct and secrecy rules whose breach
# shows in a message's words (the keyword detector), and C06 (the repeated-advertisement detector).
KEYWORD_RULES = ("C01", "C02", "C03", "C04", "C05", "C07", "B01", "B02", "B04", "S01", "S02", "S03")
AD_RULE = "C06"
LEXICON_RULES = (*KEYWORD_RULES, AD_RULE)
_DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def canonical_text(kind: str, text: str) -> str:
    """The entry's match form; raises ValidationError (Chinese, field ``text``) when it cannot match safely."""
    from ..detection.text import normalise, normalise_domain

    text = (text or "").strip()
    if kind == LexiconKind.DOMAIN:
        domain = normalise_domain(text)
        if not _DOMAIN.match(domain):
            raise ValidationError({"text": _("“%(t)s”不是有效的域名(例:example.com)。") % {"t": text}})
        return domain
    if kind == LexiconKind.WORD:
        word = normalise(text)
        if len(word) < 2:
            raise ValidationError({"text": _("词语去掉空格和标点后至少要有2个字符。")})
        return word
    pieces = re.split(r"([*?])", text)
    form = "".join(p if p in ("*", "?") else normalise(p) for p in pieces)
    form = re.sub(r"\*+", "*", form)
    literal = re.sub(r"[*?]", "", form)
    if len(literal) < 2:
        raise ValidationError({"text": _("通配模式中至少要有2个普通字符。")})
    if form[0] in "*?" or form[-1] in "*?":
        raise ValidationError({"text": _("通配模式不能以 * 或 ? 开头或结尾。")})
    if len(form) - len(literal) > MAX_WILDCARDS:
        raise ValidationError({"text": _("通配模式最多只能有%(n)s个 * 或 ?。") % {"n": MAX_WILDCARDS}})
    return form


def pattern_regex(form: str) -> re.Pattern[str]:
    """A pattern's bounded regex over normalised text: ``*`` = up to WILDCARD_SPAN characters,
    ``?`` = exactly one. Only escaped literals and bounded dots: no backtracking blow-up."""
    parts = []
    for piece in re.split(r"([*?])", form):
        if piece == "*":
            parts.append(f".{{0,{WILDCARD_SPAN}}}?")
        elif piece == "?":
            parts.append(".")
        elif piece:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


def pattern_anchor(form: str) -> str:
    """The longest literal piece of a pattern: the string the automaton looks for first."""
    return max(re.split(r"[*?]", form), key=len)


class LexiconEntryQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True, rule__is_active=True)


class LexiconEntry(models.Model):
    """One word, wildcard pattern or link domain that makes a message a suspected breach of ``rule``."""

    rule = models.ForeignKey(
        "violations.Rule",
        verbose_name=_("条款"),
        on_delete=models.PROTECT,
        related_name="lexicon_entries",
        limit_choices_to={"code__in": LEXICON_RULES},
    )
    kind = models.CharField(_("类型"), max_length=10, choices=LexiconKind.choices, default=LexiconKind.WORD)
    text = models.CharField(
        _("内容"),
        max_length=100,
        help_text=_(
            "词语按去掉空格、标点并转为半角小写后匹配;通配模式中 * 表示至多8个任意字符、? 表示1个字符;域名含其子域名"
        ),
    )
    active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True, on_delete=models.SET_NULL
    )

    objects = LexiconEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("词库条目")
        verbose_name_plural = pgettext_lazy("plural", "词库条目")
        ordering = ["rule__code", "kind", "text"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "kind", "text"],
                name="lexiconentry_unique_per_rule",
                violation_error_message=_("该条款下已有相同类型和内容的词库条目。"),
            ),
            models.CheckConstraint(condition=~models.Q(text=""), name="lexiconentry_text_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.rule.code} {self.get_kind_display()}: {self.text}"

    def save(self, *args, **kwargs) -> None:
        self.text = canonical_text(self.kind, self.text)  # the match form, however the entry was written
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.text = canonical_text(self.kind, self.text)
