"""Language: the English catalog is complete and current, pages render without Chinese chrome in English,
and numbers, money and dates follow the active language."""

from __future__ import annotations

import datetime
import re
import shutil
from decimal import Decimal
from html import unescape
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django.template import Context, Template
from django.urls import reverse
from django.utils import formats, translation

BASE_DIR = Path(settings.BASE_DIR)
CATALOG = BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"
# Chinese for third-party apps without a zh_Hans catalog of their own (auditlog, axes, treebeard, django-filter).
VENDOR_CATALOG = BASE_DIR / "locale_vendor" / "zh_Hans" / "LC_MESSAGES" / "django.po"
CATALOGS = pytest.mark.parametrize("path", [CATALOG, VENDOR_CATALOG], ids=["en", "vendor-zh_Hans"])
CJK = re.compile(r"[\u3001-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff5e]")  # not U+3000: it indents trees
# %(name)s / %(n)d / %s / %-24s … and {name} (nickname conventions); %% is a literal percent sign.
PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{[a-z_]+\}")
SOURCE_SUFFIXES = {".py", ".html", ".txt"}
SKIP_DIRS = {".venv", "venv", "staticfiles", "test-artifacts", "node_modules", "var", "media", "locale", "__pycache__"}


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    # LocaleMiddleware activates the request's language in this thread and never deactivates it: without
    # this, a later test in the same worker would run in English.
    yield
    translation.deactivate()


def _catalog(path: Path = CATALOG) -> polib.POFile:
    return polib.pofile(str(path))


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def _live_entries(path: Path = CATALOG):
    return [e for e in _catalog(path) if not e.obsolete]


# --- The catalog ------------------------------------------------------------------------------


@CATALOGS
def test_catalog_has_no_untranslated_or_fuzzy_entries(path):
    po = _catalog(path)
    assert not po.metadata_is_fuzzy, "the header is marked fuzzy"
    fuzzy = [e.msgid for e in _live_entries(path) if "fuzzy" in e.flags]
    untranslated = [e.msgid for e in po.untranslated_entries()]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    assert not untranslated, f"untranslated entries: {untranslated}"
    assert po.percent_translated() == 100


def test_catalog_translations_are_english():
    """Chinese may appear in English text only where it quotes the source (values a file may contain: 在职/离职)."""
    leftovers = {
        entry.msgid: text
        for entry in _live_entries()
        for text in [entry.msgstr, *entry.msgstr_plural.values()]
        if any(run not in entry.msgid for run in re.findall(r"[\u3400-\u9fff]+", text))
    }
    assert not leftovers, leftovers


@CATALOGS
def test_catalog_placeholders_match(path):
    mismatched = []
    for entry in _live_entries(path):
        if entry.msgid_plural:
            expected = _placeholders(entry.msgid_plural)
            forms = entry.msgstr_plural
            # English singular may spell the count out ("The following finding …"), every other form keeps it.
            if set(_placeholders(forms[0])) - set(expected):
                mismatched.append((entry.msgid, forms[0]))
            mismatched += [(entry.msgid, s) for n, s in forms.items() if n and _placeholders(s) != expected]
        elif _placeholders(entry.msgid) != _placeholders(entry.msgstr):
            mismatched.append((entry.msgid, entry.msgstr))
    assert not mismatched, mismatched


@CATALOGS
def test_compiled_catalog_is_committed_and_current(path):
    mo = path.with_suffix(".mo")
    assert mo.exists(), "run: python manage.py compilemessages -l en -l zh_Hans"
    compiled = {(e.msgctxt, e.msgid): e.msgstr or dict(e.msgstr_plural) for e in polib.mofile(str(mo))}
    for entry in _live_entries(path):
        assert compiled.get((entry.msgctxt, entry.msgid)) == (entry.msgstr or dict(entry.msgstr_plural)), (
            f"{entry.msgid!r} differs between django.po and django.mo: run compilemessages"
        )


def _copy_sources(target: Path) -> None:
    def skipped(path: Path) -> bool:
        if path.is_dir():
            return path.name in SKIP_DIRS or path.name.startswith(".")
        return path.suffix not in SOURCE_SUFFIXES

    shutil.copytree(BASE_DIR, target, ignore=lambda directory, names: {n for n in names if skipped(Path(directory, n))})


def test_every_string_in_the_source_is_in_the_catalog(tmp_path, settings, monkeypatch):
    """makemessages on a copy of the sources: a new _("…") or {% translate %} without an English entry fails."""
    copy = tmp_path / "src"
    _copy_sources(copy)
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["en"], verbosity=0, ignore_patterns=["test-artifacts/*"])
    fresh = polib.pofile(str(copy / "locale" / "en" / "LC_MESSAGES" / "django.po"))
    known = {(e.msgctxt, e.msgid) for e in _live_entries()}
    missing = sorted(f"{e.msgid!r} ({e.occurrences[0][0]})" for e in fresh if (e.msgctxt, e.msgid) not in known)
    assert len(fresh) > 400, "makemessages found too few strings: is the copy complete?"
    assert not missing, "run makemessages -l en and translate:\n" + "\n".join(missing)


def test_javascript_has_no_chinese_literals():
    """Scripts take their texts from the page (data-* attributes rendered by Django), so no djangojs catalog."""
    offenders = [
        f"{path.relative_to(BASE_DIR)}:{number}"
        for path in (BASE_DIR / "static").rglob("*.js")
        if "vendor" not in path.parts  # third-party libraries (Chart.js) carry no texts of ours
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if CJK.search(line.split("//")[0])
    ]
    assert not offenders, offenders


def test_language_switch_shows_each_language_in_its_own_name(client, hr):
    assert dict(settings.LANGUAGES) == {"zh-hans": "简体中文", "en": "English"}
    client.force_login(hr)
    for code in ("zh-hans", "en"):
        html = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE=code, follow=True).content.decode()
        assert 'data-lang="zh-hans">简体中文</button>' in html
        assert 'data-lang="en">English</button>' in html


def test_language_choice_sticks(client, hr):
    client.force_login(hr)
    answer = client.post(reverse("set_language"), {"language": "en", "next": reverse("home")})
    assert answer.status_code == 302
    assert answer.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert answer.cookies[settings.LANGUAGE_COOKIE_NAME]["max-age"] == settings.LANGUAGE_COOKIE_AGE
    html = client.get(reverse("home"), follow=True).content.decode()
    assert '<html lang="en">' in html
    assert "Log out" in html and "退出" not in html


@pytest.mark.parametrize(
    ("accept", "lang", "title"),
    [
        ("zh-CN,zh;q=0.9", "zh-hans", "登录群规"),
        ("en-US,en;q=0.9", "en", "Log in to Qungui"),
        ("fr-FR", "zh-hans", "登录群规"),
    ],
)
def test_browser_language_picks_the_page_language(client, db, accept, lang, title):
    """WeChat's browser sends zh-CN; an English browser gets English; anything else the default, Chinese."""
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert f'<html lang="{lang}">' in html and title in html


def test_django_admin_has_a_chinese_catalog():
    django_strings = {"Log out": "注销", "Site administration": "站点管理"}  # a dict: makemessages skips them
    with translation.override("zh-hans"):
        assert {english: translation.gettext(english) for english in django_strings} == django_strings


def test_third_party_screens_are_in_chinese(client, hr):
    client.force_login(hr)
    index = client.get(reverse("admin:index")).content.decode()
    assert "审计日志" in index and "Audit log" not in index
    department_form = client.get(reverse("admin:groups_department_add")).content.decode()
    assert "相对于" in department_form and "Relative to" not in department_form


def test_lockout_message_is_in_the_page_language(client, hr, settings):
    settings.AXES_FAILURE_LIMIT = 1
    client.post(reverse("login"), {"username": "hr", "password": "wrong"})
    locked = client.post(reverse("login"), {"username": "hr", "password": "wrong"})
    assert locked.status_code == 429
    assert "账号已锁定" in locked.content.decode()
    _english(client)
    assert "Account locked" in client.post(reverse("login"), {"username": "hr", "password": "wrong"}).content.decode()


# --- Pages in English -------------------------------------------------------------------------


def _data_strings() -> list[str]:
    """Every text stored in the tables, and the company's name: names, titles, descriptions are data, not chrome."""
    values: set[str] = {settings.QUNGUI_COMPANY_NAME}
    for app in ("groups", "violations", "portal", "auth", "auditlog"):
        for model in apps.get_app_config(app).get_models():
            fields = [
                f.name for f in model._meta.concrete_fields if isinstance(f, (models.CharField, models.TextField))
            ]
            for row in model.objects.values_list(*fields) if fields else []:
                values.update(v for v in row if isinstance(v, str) and CJK.search(v))
    return sorted(values, key=len, reverse=True)


def _chrome(html: str) -> str:
    """The page without the data it shows and without the language switch (each language in its own name)."""
    text = unescape(re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S))
    text = text.replace(">简体中文<", "><")
    for value in _data_strings():
        text = text.replace(value, "").replace(unescape(str(value)), "")
    return text


def _assert_no_chinese(html: str, page: str) -> None:
    text = _chrome(html)
    found = [text[max(m.start() - 60, 0) : m.end() + 60] for m in CJK.finditer(text)]
    assert not found, f"{page}: Chinese left in the English page:\n" + "\n---\n".join(found[:10])


@pytest.fixture
def fined_violation(hr, org):
    from violations import services
    from violations.models import Rule

    when = datetime.datetime(2026, 11, 3, 14, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    violation = services.record_violation(
        org["east_rep"],
        Rule.objects.get(code="C01"),
        when,
        "上班时间发布广告",
        acting_user=hr,
        confirmed=True,
        group=org["sales_group"],
    )
    services.apply_sanctions(violation, [{"kind": "fine", "amount": "1234.50"}], acting_user=hr)
    return violation


def _english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_login_page_in_english(client, db):
    html = _english(client).get(reverse("login")).content.decode()
    assert "Log in to Qungui" in html
    _assert_no_chinese(html, "login")


def test_login_page_in_chinese_by_default(client):
    html = client.get(reverse("login")).content.decode()
    assert "登录群规" in html and '<html lang="zh-hans">' in html


@pytest.mark.parametrize("who", ["hr", "head_sales", "group_admin", "employee_user"])
def test_start_page_in_english(client, fined_violation, who, request):
    """Home (for HR and heads, the dashboard it leads to) with English active."""
    _english(client).force_login(request.getfixturevalue(who))
    answer = client.get(reverse("home"), follow=True)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "Log out" in html
    _assert_no_chinese(html, f"home as {who}")


@pytest.mark.parametrize(
    "url",
    [
        "admin:index",
        "admin:violations_violation_changelist",
        "admin:violations_sanction_changelist",
        "admin:violations_rule_changelist",
        "admin:groups_employee_changelist",
        "admin:groups_chatgroup_changelist",
        "admin:groups_rosterfinding_changelist",
        "admin:violations_performancemonth_changelist",
        "admin:violations_performancededuction_changelist",
        "violations:export",
    ],
)
def test_admin_pages_in_english(client, hr, fined_violation, url):
    _english(client).force_login(hr)
    answer = client.get(reverse(url))
    assert answer.status_code == 200
    _assert_no_chinese(answer.content.decode(), url)


def test_violation_change_page_in_english(client, hr, fined_violation):
    _english(client).force_login(hr)
    answer = client.get(reverse("admin:violations_violation_change", args=[fined_violation.pk]))
    assert answer.status_code == 200
    _assert_no_chinese(answer.content.decode(), "violation change page")


def test_my_records_in_english(client, employee_user, fined_violation):
    _english(client).force_login(employee_user)
    html = client.get(reverse("violations:mine")).content.decode()
    assert "Political / anti-state content" in html  # the rule's English title
    assert "Fine ¥1,234.50" in html
    _assert_no_chinese(html, "my records")


def test_my_records_in_chinese(client, employee_user, fined_violation):
    client.force_login(employee_user)
    html = client.get(reverse("violations:mine")).content.decode()
    assert "发布不良政治倾向、反动言论" in html
    assert "罚款 1,234.50元" in html


# --- Numbers, money, dates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-hans", "1,234,567 · 1,234.50 · 2026年11月3日"), ("en", "1,234,567 · 1,234.50 · Nov. 3, 2026")],
)
def test_numbers_and_dates_follow_the_language(language, expected):
    template = Template('{% load humanize %}{{ n|intcomma }} · {{ money|floatformat:"2g" }} · {{ day|date }}')
    with translation.override(language):
        rendered = template.render(
            Context({"n": 1234567, "money": Decimal("1234.5"), "day": datetime.date(2026, 11, 3)})
        )
        assert rendered == expected
        assert formats.get_format("DECIMAL_SEPARATOR") == "."


@pytest.mark.parametrize(("language", "expected"), [("zh-hans", "罚款 1,234.50元"), ("en", "Fine ¥1,234.50")])
def test_fine_is_shown_as_money(language, expected, fined_violation):
    sanction = fined_violation.sanctions.get(kind="fine")
    with translation.override(language):
        assert str(sanction) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-hans", "¥1,234.50 · -¥12,000.00 · 1,234,567 · 2026年10月"),
        ("en", "¥1,234.50 · -¥12,000.00 · 1,234,567 · October 2026"),
    ],
)
def test_dashboard_money_and_month_filters(language, expected):
    template = Template("{% load portal_format %}{{ a|money }} · {{ b|money }} · {{ n|num }} · {{ m|month_label }}")
    context = {"a": Decimal("1234.5"), "b": Decimal("-12000"), "n": 1234567, "m": datetime.date(2026, 10, 1)}
    with translation.override(language):
        assert template.render(Context(context)) == expected
