"""Keyword and repeated-advertisement detectors on hand-built message sequences; the lexicon model."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from groups.models import ChatGroup, ChatMessage
from violations.detection import advertising, keywords
from violations.detection.base import Window, all_detectors, hits
from violations.detection.text import normalise, normalise_url
from violations.models import LexiconEntry, Rule

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
_seq = iter(range(1, 10**6))


def msg(group, sender, text=None, *, at=0, kind="text", link_url=None, link_title=None, employee=None, **extra):
    """One message ``at`` seconds after T0."""
    return ChatMessage.objects.create(
        group=group, platform=group.platform, natural_key=f"m{next(_seq)}", sender_platform_id=sender,
        employee=employee, sent_at=T0 + datetime.timedelta(seconds=at), kind=kind, text=text,
        link_url=link_url, link_title=link_title, **extra,
    )  # fmt: skip


def window(since=None, until=None, group_ids=None):
    return Window(since=since, until=until, now=timezone.now(), group_ids=group_ids)


def run(detector, w=None):
    return sorted(hits(detector.DETECTOR, w or window()), key=lambda h: (h.occurred_at, h.key))


@pytest.fixture
def group(org) -> ChatGroup:
    return org["sales_group"]


# --- normalising -----------------------------------------------------------------------------------


def test_normalise_full_width_case_and_inserted_separators():
    assert normalise("加 微 信") == normalise("加.微.信") == normalise("加❤微❤信") == "加微信"
    assert normalise("ＶＸ：ＡＢ１２３") == "vxab123"
    assert normalise("加\u200b微\u3000信!!") == "加微信"


def test_normalise_url_drops_tracking_and_case():
    a = normalise_url("HTTPS://WWW.Shop.Example.com/item/9?id=3&utm_source=wx&spm=a.b#top")
    b = normalise_url("http://shop.example.com/item/9/?utm_campaign=x&id=3")
    assert a == b == "http://shop.example.com/item/9?id=3"
    assert normalise_url("http://shop.example.com/item/9?id=4") != a


# --- lexicon ---------------------------------------------------------------------------------------


def test_seeded_lexicon_covers_the_keyword_rules():
    codes = set(LexiconEntry.objects.values_list("rule__code", flat=True))
    assert {"C01", "C02", "C04", "C05", "C06", "S01", "B02"} <= codes
    assert LexiconEntry.objects.filter(rule__code="C06", text="加微信").exists()


def test_entry_stored_in_match_form_and_unique_per_rule_kind_text():
    rule = Rule.objects.get(code="S01")
    entry = LexiconEntry.objects.create(rule=rule, kind="word", text=" 研发 路线图 ")
    assert entry.text == "研发路线图"
    duplicate = LexiconEntry(rule=rule, kind="word", text="研发路线图")
    with pytest.raises(ValidationError):
        duplicate.full_clean()
    assert LexiconEntry.objects.create(rule=rule, kind="domain", text="HTTPS://www.Leak.example.com/x").text == (
        "leak.example.com"
    )


@pytest.mark.parametrize(
    ("kind", "text"),
    [("word", "代"), ("word", " ! "), ("pattern", "*代理"), ("pattern", "a*?*?*?*?*b"), ("domain", "not a host")],
)
def test_unsafe_or_empty_entries_refused(kind, text):
    entry = LexiconEntry(rule=Rule.objects.get(code="C06"), kind=kind, text=text)
    with pytest.raises(ValidationError) as exc:
        entry.full_clean()
    assert "text" in exc.value.message_dict


# --- keyword detector ------------------------------------------------------------------------------


def test_spaced_out_and_full_width_keywords_hit_with_the_word_named(group, org):
    m1 = msg(group, "wx_zhangsan", "这份 客 户 名 单 别发出去", employee=org["east_rep"])
    m2 = msg(group, "wx_li", "ＳＯＵＲＣＥ 内部资料,请勿外传", at=5)
    msg(group, "wx_li", "明天上午十点开会", at=10)
    found = run(keywords)
    assert [(h.message_ids, h.rule_code) for h in found] == [((m1.pk,), "S01"), ((m2.pk,), "S01")]
    assert found[0].reason == "命中词库:客户名单"
    assert found[0].key == f"{group.pk}:{m1.natural_key}:S01" and found[0].employee_id == org["east_rep"].pk
    assert found[1].details["matched"] == ["内部*外传", "内部资料"]


def test_pattern_wildcard_is_bounded(group):
    near = msg(group, "a", "点击下方链接立即中奖")
    msg(group, "b", "点击" + "很" * 30 + "链接" + "很" * 30 + "中奖", at=1)  # too far apart for *
    assert [h.message_ids for h in run(keywords)] == [(near.pk,)]


def test_recalled_message_is_hidden_from_keywords(group):
    msg(group, "a", "网赌 稳赚", recalled=True, recalled_at=T0 + datetime.timedelta(seconds=10))
    assert run(keywords) == []


def test_inactive_entry_and_domain_entries(group):
    LexiconEntry.objects.filter(text="博彩").update(active=False)
    msg(group, "a", "博彩")
    LexiconEntry.objects.create(rule=Rule.objects.get(code="C02"), kind="domain", text="bad.example.net")
    link = msg(group, "b", kind="link", link_url="https://m.BAD.example.net/x?utm_source=1", link_title="看看", at=1)
    in_text = msg(group, "c", "打开 http://bad.example.net/a 领取", at=2)
    found = run(keywords)
    assert [(h.message_ids, h.rule_code, h.reason) for h in found] == [
        ((link.pk,), "C02", "命中词库:bad.example.net"),
        ((in_text.pk,), "C02", "命中词库:bad.example.net"),
    ]


def test_keyword_leaves_c06_to_the_ad_detector_and_respects_the_window(group, org):
    msg(group, "a", "加微信领优惠券")
    later = msg(group, "a", "客户名单", at=3600)
    other = msg(org["tech_group"], "z", "客户名单", at=3600)
    assert [h.rule_code for h in run(keywords)] == ["S01", "S01"]
    since = T0 + datetime.timedelta(seconds=60)
    assert [h.message_ids for h in run(keywords, window(since=since, group_ids=(group.pk,)))] == [(later.pk,)]
    assert {h.group_id for h in run(keywords)} == {group.pk, other.group_id}


def test_rerun_gives_the_same_keys(group):
    msg(group, "a", "客户名单")
    msg(group, "b", "报价单 和 底价", at=1)
    first = [(h.key, h.reason) for h in run(keywords)]
    assert first == [(h.key, h.reason) for h in run(keywords)] and len({k for k, _r in first}) == 2


# --- repeated advertisement ------------------------------------------------------------------------


def test_first_ad_then_repeats_numbered_per_sender(group):
    a1 = msg(group, "a", "兼职刷单,日结,加微信 abc123")
    msg(group, "a", "好的收到", at=5)
    a2 = msg(group, "a", "兼职 刷单 ,日结,加 微 信 ＡＢＣ１２３", at=60)
    a3 = msg(group, "a", "兼职刷单,日结,加微信abc123!!", at=120)
    found = run(advertising)
    assert [(h.message_ids[0], h.details["occurrence"]) for h in found] == [(a1.pk, 1), (a2.pk, 2), (a3.pk, 3)]
    assert found[0].rule_code == "C06" and "首次发布" in found[0].reason
    assert found[2].message_ids == (a3.pk, a2.pk, a1.pk) and found[2].details["first_message_id"] == a1.pk
    assert "第3次" in found[2].reason


def test_two_people_same_text_are_two_first_occurrences(group):
    msg(group, "a", "扫码领取优惠券")
    msg(group, "b", "扫码领取优惠券", at=1)
    assert [(h.sender_platform_id, h.details["occurrence"]) for h in run(advertising)] == [("a", 1), ("b", 1)]


def test_recalled_ad_still_counts_as_posted(group):
    msg(group, "a", "招商加盟,扫码领取", recalled=True, recalled_at=T0 + datetime.timedelta(seconds=10))
    again = msg(group, "a", "招商加盟,扫码领取", at=30)
    found = run(advertising)
    assert [h.details["occurrence"] for h in found] == [1, 2]
    assert found[0].details["recalled"] is True and found[0].details["recalled_after_seconds"] == 10
    assert found[1].message_ids[0] == again.pk and "recalled" not in found[1].details


def test_same_link_with_different_tracking_params_is_the_same_ad(group):
    url = "https://Shop.example.com/p/1?utm_source=group&utm_medium=wx"
    msg(group, "a", kind="link", link_url=url, link_title="限时特价 优惠券")
    msg(group, "a", kind="link", link_url="http://shop.example.com/p/1?utm_source=other", link_title="优惠券", at=9)
    msg(group, "a", kind="link", link_url="http://shop.example.com/p/2", link_title="优惠券", at=20)
    msg(group, "a", kind="link", link_url="http://shop.example.com/p/1", link_title="周报", at=30)  # not an ad
    found = run(advertising)
    assert [h.details["occurrence"] for h in found] == [1, 2, 1]
    assert found[0].details["fingerprint"] == found[1].details["fingerprint"] == "url:http://shop.example.com/p/1"


def test_ad_domain_makes_a_link_an_ad(group):
    msg(group, "a", kind="link", link_url="https://u.tb.cn/abc?share_crt_v=1", link_title="好物")
    msg(group, "a", kind="link", link_url="https://u.tb.cn/abc", link_title="好物推荐", at=5)
    assert [h.details["occurrence"] for h in run(advertising)] == [1, 2]


def test_repeat_in_window_numbered_after_posts_before_it_and_groups_apart(group, org):
    msg(group, "a", "微商代理招募")
    msg(org["tech_group"], "a", "微商代理招募", at=10)
    late = msg(group, "a", "微商代理招募", at=86400)
    since = T0 + datetime.timedelta(hours=1)
    found = run(advertising, window(since=since))
    assert [(h.message_ids, h.details["occurrence"]) for h in found] == [((late.pk, late.pk - 2), 2)]
    everything = run(advertising)
    assert [h.details["occurrence"] for h in everything] == [1, 1, 2]


def test_ad_rerun_gives_the_same_keys(group):
    msg(group, "a", "加微信领券")
    msg(group, "a", "加微信领券", at=1)
    keys = [h.key for h in run(advertising)]
    assert keys == [h.key for h in run(advertising)] and len(set(keys)) == 2


def test_no_lexicon_no_hits(group):
    LexiconEntry.objects.all().delete()
    msg(group, "a", "加微信 客户名单")
    assert run(keywords) == [] and run(advertising) == []


def test_all_detectors_finds_both():
    names = {d.name for d in all_detectors()}
    assert {"keyword", "repeated_ad"} <= names


def test_one_scan_serves_both_lexicon_detectors_inside_a_shared_scan(group, monkeypatch):
    """Inside ``shared_scan()`` (the runner opens one per window) the keyword and advertisement
    detectors share one scan of a window; a new scope, or a call outside one, scans again and sees
    new messages and lexicon changes."""
    scans = []
    real = keywords.load_matcher
    monkeypatch.setattr(keywords, "load_matcher", lambda codes: scans.append(1) or real(codes))
    msg(group, "a", "客户名单")
    with keywords.shared_scan():
        assert len(run(keywords)) == 1 and len(run(advertising)) == 0
        assert len(run(keywords, window(since=T0))) == 1  # another window: its own scan
    assert len(scans) == 2
    msg(group, "a", "加微信领券", at=5)
    assert len(run(advertising)) == 1 and len(scans) == 3  # outside a scope: scanned again
    LexiconEntry.objects.filter(text="客户名单").update(active=False)
    with keywords.shared_scan():
        assert run(keywords) == [] and len(run(advertising)) == 1
    assert len(scans) == 4
    LexiconEntry.objects.filter(text="客户名单").update(active=True)
    Rule.objects.filter(code="S01").update(is_active=False)
    assert run(keywords) == []


def test_the_runner_scans_the_lexicon_once_per_chunk(group, monkeypatch):
    from violations.services.detection import detect_chat

    scans = []
    real = keywords.load_matcher
    monkeypatch.setattr(keywords, "load_matcher", lambda codes: scans.append(1) or real(codes))
    msg(group, "a", "客户名单")
    msg(group, "a", "加微信领券", at=5)
    result = detect_chat(trigger="test")
    assert result.counts["keyword"]["new"] == 1 and result.counts["repeated_ad"]["new"] == 1
    assert len(scans) == 1


def test_postgresql_prefilter_finds_what_the_stream_finds(group):
    from django.db import connection

    texts = ["加❤微❤信", "ＶＸ 客户名单", "内部\u200b资料", "点击这个链接马上中奖", "①号 报价单", "普通消息", "底　价"]
    for i, text in enumerate(texts):
        msg(group, f"s{i}", text, at=i)
    msg(group, "x", kind="link", link_url="https://U.TB.CN/zz", link_title="看看", at=20)
    # a domain in the text only, ASCII and with full-width letters and dots (NFKC: the same host)
    msg(group, "y", "领券看这里 https://u.tb.cn/q1 快", at=21)
    msg(group, "z", "领券 ｈｔｔｐｓ：／／ｕ．ｔｂ．ｃｎ/q2", at=22)
    msg(group, "w", "没有网址。句号而已。", at=23)
    matcher = keywords.load_matcher(keywords.LEXICON_RULES)
    streamed = sorted((row[0], sorted(m)) for row, m in keywords._streamed(matcher, window()))
    assert len(streamed) == 9
    prefiltered = keywords._prefiltered(matcher, window())
    if connection.vendor != "postgresql":
        assert prefiltered is None
        return
    assert sorted((row[0], sorted(m)) for row, m in prefiltered) == streamed
    LexiconEntry.objects.create(rule=Rule.objects.get(code="B02"), kind="word", text="дурак")
    assert keywords._prefiltered(keywords.load_matcher(keywords.LEXICON_RULES), window()) is None  # streamed


def test_postgresql_prefilter_matches_separators_case_and_wildcards_as_the_normal_form(group):
    """The prefilter matches an entry's characters with separators between them, in any case and
    width, İ as i, a * over at most WILDCARD_SPAN characters after the separators are removed: what
    the automaton finds on the normal form, no fewer (on SQLite the stream alone runs)."""
    from django.db import connection

    b02 = Rule.objects.get(code="B02")
    LexiconEntry.objects.create(rule=b02, kind="word", text="weixin")
    LexiconEntry.objects.create(rule=b02, kind="pattern", text="vx*加?人")
    texts = [
        "WEİXİN 联系", "W·E·I·X·I·N", "ｗｅｉｘｉｎ", "wei xin", "WeiXin", "wéixin", "weixi n", "weıxin",
        "vx一二三四五六七八加我人", "VX:一二三四五六七八九加我人", "v x ❤ 1 2 3 加 好 人", "vx加人",
        "ＶＸ，，，，，，，，，，，，加我人",
    ]  # fmt: skip
    found = [msg(group, f"s{i}", text, at=i) for i, text in enumerate(texts)]
    matcher = keywords.load_matcher(keywords.LEXICON_RULES)
    streamed = sorted((row[0], sorted(m)) for row, m in keywords._streamed(matcher, window()))
    # all but wéixin, weıxin (é, ı are separators), a * of nine characters and a ? of none
    assert [pk for pk, _m in streamed] == [found[i].pk for i in (0, 1, 2, 3, 4, 6, 8, 10, 12)]
    prefiltered = keywords._prefiltered(matcher, window())
    if connection.vendor != "postgresql":
        assert prefiltered is None
        return
    assert sorted((row[0], sorted(m)) for row, m in prefiltered) == streamed


def test_a_domain_written_without_a_scheme_matches_and_an_email_address_does_not():
    """ "u.tb.cn/abc" (no http://, no www.) is the seeded shopping short link, an easy way round the
    filter otherwise; "me@u.tb.cn" is an e-mail address; Python's normal form lower-cases as
    PostgreSQL's prefilter does (ß stays ß)."""
    from violations.detection.keywords import load_matcher, message_matches
    from violations.detection.text import bare_hosts, normalise

    matcher = load_matcher(["C06"])
    assert message_matches(matcher, "领券 u.tb.cn/abc", None, None).get("C06") == ["u.tb.cn"]
    assert message_matches(matcher, "领券 ＵＡ．ｕ．ｔｂ．ｃｎ", None, None).get("C06") == ["u.tb.cn"]
    assert "C06" not in message_matches(matcher, "发到 me@u.tb.cn", None, None)
    assert bare_hosts("见 report.xlsx 和 a.example.com/x") == ["report.xlsx", "a.example.com"]
    assert normalise("STRAßE") == "straße" and normalise("加ー微ー信") == "加微信"
