"""qungui_bigrams (portal.trigram): every character pair of a value, as the old aggregate gave them,
and the two-character search still answered by the index (PostgreSQL)."""

import pytest
from django.db import connection
from django.utils import timezone

from groups.models import Employee

SAMPLES = [
    "",
    "王",
    "王芳",
    "华东区-王芳",
    "ABCDE",
    "ab\ncd\r\ne",
    "领导 王芳 于 2026-11-02 10:00:00 的指令,李四 在 30 分钟内未回复",
    "😀🎉a😀",
    "  两个空格  ",
    "%_\\'\"",
]


@pytest.mark.django_db
def test_the_pairs_are_every_pair_of_the_value_and_nothing_of_two_characters_more():
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for text in SAMPLES:
            cursor.execute("SELECT qungui_bigrams(%s)", [text])
            entries = set(cursor.fetchone()[0])
            expected = {text[i : i + 2] for i in range(len(text) - 1)}
            assert {e for e in entries if len(e) == 2} == expected, text
            assert all(len(e) < 2 for e in entries - expected), text  # the tails no search asks for
        cursor.execute("SELECT qungui_bigrams(NULL)")
        assert cursor.fetchone()[0] is None


@pytest.mark.django_db
def test_a_two_character_search_uses_the_pair_index_and_finds_the_row(org):
    if connection.vendor != "postgresql":
        return
    Employee.objects.create(employee_no="E9001", name="华东区王芳", department=org["east"])
    Employee.objects.create(employee_no="E9002", name="王五", department=org["east"])
    found = Employee.objects.filter(name__qungui_bigrams="王芳", name__icontains="王芳")
    assert list(found.values_list("name", flat=True)) == ["华东区王芳"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off"
        )  # only the GIN bitmap is left
        sql, params = found.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "employee_name_bigram" in plan, plan


@pytest.mark.django_db
def test_a_longer_search_of_the_description_uses_its_pair_index(org):
    """The violations' description has no trigram index (violations 0020): a term of three characters
    or more asks for all its pairs, and the LIKE keeps only the rows holding the term itself."""
    from portal.admin_lists import union_search
    from violations.models import Rule, Violation

    rule = Rule.objects.first()
    employee = Employee.objects.create(employee_no="E9003", name="赵六", department=org["east"])
    for text in ("在群内发布兼职刷单广告", "兼职与刷单都不行", "刷单兼职"):
        Violation.objects.create(employee=employee, rule=rule, occurred_at=timezone.now(), description=text)
    found = union_search(Violation.objects.all(), ["兼职刷单"], ["description"])
    assert list(found.values_list("description", flat=True)) == ["在群内发布兼职刷单广告"]
    assert list(
        union_search(Violation.objects.all(), ["刷单兼职"], ["description"]).values_list("description", flat=True)
    ) == ["刷单兼职"]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'violations_violation'")
        assert "violation_description_trgm" not in {name for (name,) in cursor.fetchall()}
        cursor.execute(
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off"
        )  # only the GIN bitmap is left
        query = (
            Violation.objects.filter(  # as union_search asks: ids, no order
                description__qungui_bigrams="兼职刷单", description__icontains="兼职刷单"
            )
            .order_by()
            .values("pk")
        )
        sql, params = query.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "violation_description_bigram" in plan, plan


def test_the_pairs_of_a_term():
    from portal.trigram import bigrams

    assert bigrams("兼职刷单") == ["兼职", "职刷", "刷单"]
    assert bigrams("abab") == ["AB", "BA"]
    assert bigrams("王") == []


@pytest.mark.django_db
def test_the_description_found_by_the_pairs_without_separators_as_by_a_plain_search(org):
    """The description's index holds the pairs of its text without digits, spaces and punctuation
    (violations 0023): any term — with separators, all separators, full-width, any case — finds what
    a plain substring search finds, no more and no fewer."""
    import random

    from portal.admin_lists import union_search
    from portal.trigram import bigrams
    from violations.models import Rule, Violation

    rule = Rule.objects.first()
    employee = Employee.objects.create(employee_no="E9004", name="孙七", department=org["east"])
    texts = [
        "领导 李浩 于 2026-11-20 12:09:57 的指令,何建桐 80 分钟后才回复(时限 30 分钟,按工作时间计)",
        "领导 李浩于 2026-11-21 09:00:00 的指令,何建桐 在 30 分钟内(至 09:30:00)未回复",
        "休息时间(23:30–07:30)内发送消息:2026-11-16 00:17:18",
        "命中词库:VX:ab_12、加微信「领券」",
        "3 分钟内连续发送 12 条消息",
    ]
    for text in texts:
        Violation.objects.create(employee=employee, rule=rule, occurred_at=timezone.now(), description=text)
    rng = random.Random(16)
    terms = ["12:09", "30 分钟", "李浩 于", "李浩于", "（时限", "分钟内", "vx:AB", "「领券」", "ab_12", "–07"]
    terms += ["浩于2026", "(时限"]
    for _ in range(60):
        text = rng.choice(texts)
        start = rng.randrange(len(text) - 2)
        terms.append(text[start : start + rng.randint(2, 8)])
    for term in terms:
        found = set(
            union_search(Violation.objects.all(), [term], ["description"]).values_list("description", flat=True)
        )
        assert found == {t for t in texts if term.upper() in t.upper()}, term
    assert bigrams("12:09", without_separators=True) == []
    assert bigrams("李浩 于", without_separators=True) == ["李浩", "浩于"]
