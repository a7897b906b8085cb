"""Nickname conventions (群昵称规范).

A convention is a template with placeholders, e.g. ``{department}-{name}`` (部门-姓名, the default),
``{department}{name}`` (中心名称+姓名), ``{subsidiary}-{name}`` (地区-姓名 where regions are
subsidiaries), ``{company}{department}{title}{name}`` (公司+部门职位+姓名) or ``{name}`` (姓名全称).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DEFAULT_CONVENTION = "{department}-{name}"

PLACEHOLDERS = {
    "name": _("姓名"),
    "department": _("所在部门名称"),
    "parent": _("上级部门名称"),
    "subsidiary": _("二级单位(子公司/地区)名称"),
    "company": _("公司(根部门)名称"),
    "title": _("职位"),
    "employee_no": _("工号"),
}

_PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")


def validate_convention(value: str) -> None:
    names = _PLACEHOLDER_RE.findall(value)
    unknown = sorted(set(names) - set(PLACEHOLDERS))
    if unknown:
        raise ValidationError(
            _("未知占位符: %(names)s;可用: %(allowed)s"),
            params={"names": ", ".join(unknown), "allowed": ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)},
        )
    if "name" not in names:
        raise ValidationError(_("群昵称规范必须包含 {name}(姓名)。"))


@dataclass(frozen=True)
class NicknameParts:
    values: dict[str, str]

    def get(self, key: str) -> str | None:
        return self.values.get(key)


@lru_cache(maxsize=256)
def _pattern(convention: str) -> re.Pattern[str]:
    out, pos = [], 0
    for match in _PLACEHOLDER_RE.finditer(convention):
        out.append(re.escape(convention[pos : match.start()]))
        key = match.group(1)
        # A name never contains the separators used around it; other parts may be any text.
        out.append(f"(?P<{key}>.+?)" if key != "name" else f"(?P<{key}>[^\\s\\-_/()（）]+?)")
        pos = match.end()
    out.append(re.escape(convention[pos:]))
    return re.compile("^" + "".join(out) + "$")


def normalize(nickname: str) -> str:
    """Fold the variants people type: full-width dashes and spaces around separators."""
    text = nickname.strip().replace("\u3000", " ")
    for dash in ("－", "—", "–", "―", "‐"):
        text = text.replace(dash, "-")
    return re.sub(r"\s*-\s*", "-", text)


def parse(convention: str, nickname: str) -> NicknameParts | None:
    match = _pattern(convention).match(normalize(nickname))
    return NicknameParts(match.groupdict()) if match else None


def render(convention: str, **values: str) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), "") or "", convention)
