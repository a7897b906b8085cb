"""The three chat-export readers on the faithful samples and on hand-built edge cases."""

from __future__ import annotations

import codecs
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from groups.chat.readers import detect_platform, read_chat
from groups.chat.records import ChatRecord, Skipped, parse_mentions
from groups.importing.errors import ImportFileError

FIXTURES = Path(__file__).parent / "fixtures" / "chat"
SEP = "=" * 64


def records(path, platform):
    encoding, rows = read_chat(path, platform)
    return encoding, list(rows)


def messages(path, platform):
    return [r for r in records(path, platform)[1] if isinstance(r, ChatRecord)]


def error_of(path, platform) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        records(path, platform)
    return caught.value


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- WeCom 会话内容存档 -----------------------------------------------------------------------------------


def test_wecom_sample():
    _enc, rows = records(FIXTURES / "wecom_msgaudit_decrypted.jsonl", "wecom")
    sent = [r for r in rows if isinstance(r, ChatRecord)]
    assert [r.kind for r in sent] == ["text", "text", "link", "recall", "redpacket", "image"]
    directive = sent[0]
    assert directive.key == "10001_1793581205000"
    assert directive.chat == "wrNplhCgAAIVZohLe57zKnvIV7xBKrig"
    assert directive.sender_id == "WangJingLi"
    assert directive.sent_at == datetime(2026, 11, 2, 1, 0, 5, tzinfo=UTC)  # msgtime is UTC ms
    assert directive.mentions_all is True
    link = sent[2]
    assert (link.link_url, link.link_title) == ("http://example.com/ad", "限时特惠")
    recall = sent[3]
    assert recall.recalls == "10003_1793584800000" and recall.text is None
    assert sent[4].extra["totalamount"] == 2000 and sent[4].text == "恭喜发财，大吉大利"
    assert sent[5].extra["md5sum"] == "0c0bf5df0b0bb7f1b8bd6d8a1ee4a7b6"
    assert [s.reason for s in rows if isinstance(s, Skipped)] == ["switch"]


def test_wecom_one_to_one_ignored_and_mentions(tmp_path):
    lines = [
        {"msgid": "a", "action": "send", "from": "X", "tolist": [], "roomid": "", "msgtime": 1793581205000,
         "msgtype": "text", "text": {"content": "单聊"}},
        {"msgid": "b", "action": "send", "from": "X", "tolist": [], "roomid": "wrR", "msgtime": 1793581205000,
         "msgtype": "text", "text": {"content": "@张三\u2005@李四\u2005请回复"}},
        {"msgid": "c", "action": "send", "from": "X", "tolist": [], "roomid": "wrR", "msgtime": 1793581205000,
         "msgtype": "voice", "voice": {"play_length": 3}},
    ]  # fmt: skip
    path = write(tmp_path, "a.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n")
    _enc, rows = records(path, "wecom")
    assert isinstance(rows[0], Skipped) and rows[0].reason == "one_to_one"
    assert rows[1].mentions == ["张三", "李四"] and rows[1].mentions_all is False
    assert rows[2].kind == "other" and rows[2].extra["msgtype"] == "voice"


def test_wecom_bad_line_names_line_and_field():
    error = error_of(FIXTURES / "wecom_bad_msgtime.jsonl", "wecom")
    assert error.error.row == 3 and error.error.column == "msgtime"
    assert str(error) == "第3行, msgtime: 应为毫秒时间戳(UTC)"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("not json", "JSON"),
        ('{"action": "send"}', "msgid"),
        ('{"msgid": "x", "action": "forward", "roomid": "r"}', "action"),
        ('{"msgid": "x", "action": "recall", "from": "a", "roomid": "r", "msgtime": 1793581205000, '
         '"msgtype": "revoke"}',
         "revoke.pre_msgid"),
        ('{"msgid": "x", "action": "send", "from": "a", "roomid": "r", "msgtime": 1793581205000, '
         '"msgtype": "text"}',
         "text.content"),
    ],
)  # fmt: skip
def test_wecom_bad_fields(tmp_path, line, field):
    good = '{"msgid":"ok","action":"switch","time":1,"user":"a"}'
    error = error_of(write(tmp_path, "b.jsonl", f"{good}\n{line}\n"), "wecom")
    assert (error.error.row, error.error.column) == (2, field)


# --- WeChatMsg / 留痕 CSV -------------------------------------------------------------------------------


def test_wechatmsg_sample_with_bom():
    encoding, rows = records(FIXTURES / "wechatmsg_liuhen_group_utf8.csv", "wechat")
    assert encoding == "utf-8-sig"
    assert len(rows) == 9
    system = rows[0]
    assert (system.kind, system.sender_id, system.line) == ("system", "", 2)
    assert "加入了群聊" in system.text
    directive = rows[1]
    assert directive.key == "7:2" and directive.sender_id == "wxid_wangjl01"
    assert directive.sent_at == datetime(2026, 11, 2, 1, 0, 5, tzinfo=UTC)  # CreateTime epoch seconds
    assert directive.mentions_all
    # the display name is the remark; the profile nickname is kept apart and is never the 群昵称
    assert directive.sender_name == "王经理" and directive.extra["profile_nickname"] == "Wang"
    assert rows[2].extra["is_sender"] is True
    assert rows[8].sender_id == "wxid_left0099"  # a sender no longer in contacts: all three are the wxid


def test_wechatmsg_types(tmp_path):
    header = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"
    body = [
        "1,7,3,0,0,1793581205,3,,2026-11-02 09:00:05,张三,三哥,wxid_a",
        '2,7,49,5,0,1793581206,3,"<msg><appmsg><title>限时特惠</title><url>http://ad.example/x</url></appmsg></msg>",'
        "2026-11-02 09:00:06,张三,三哥,wxid_a",
        "3,7,49,2001,0,1793581207,3,,2026-11-02 09:00:07,张三,三哥,wxid_a",
        '4,7,1,0,0,1793581208,3,"两行\n内容",2026-11-02 09:00:08,张三,三哥,wxid_a',
        "5,7,34,0,0,1793581209,3,,2026-11-02 09:00:09,张三,三哥,wxid_a",
        "6,7,49,6,0,1793581210,3,报价单.xlsx,2026-11-02 09:00:10,张三,三哥,wxid_a",
    ]
    path = write(tmp_path, "g.csv", "\n".join([header, *body]) + "\n", "utf-8-sig")
    rows = messages(path, "wechat")
    assert [r.kind for r in rows] == ["image", "link", "redpacket", "text", "other", "file"]
    assert (rows[1].link_url, rows[1].link_title) == ("http://ad.example/x", "限时特惠")
    assert rows[3].text == "两行\n内容" and rows[3].line == 5
    assert rows[4].line == 7  # line numbers survive a multi-line field
    assert rows[4].extra["label"] == "voice"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("x,7,1,0,0,1793581205,3,hi,t,a,b,wxid_a", "localId"),
        ("1,7,1,0,0,yesterday,3,hi,t,a,b,wxid_a", "CreateTime"),
        ("1,7,1,0,0,1793581205,3,hi,t,a,b,", "Sender"),
        ("1,7,1,0,0,1793581205", "Status"),  # the first missing column
    ],
)
def test_wechatmsg_bad_rows(tmp_path, row, field):
    header = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"
    ok = "9,7,1,0,0,1793581205,3,ok,t,a,b,wxid_a"
    error = error_of(write(tmp_path, "g.csv", f"{header}\n{ok}\n{row}\n", "utf-8-sig"), "wechat")
    assert (error.error.row, error.error.column) == (3, field)


def test_wechatmsg_wrong_header(tmp_path):
    error = error_of(write(tmp_path, "g.csv", "工号,姓名\n1,张三\n"), "wechat")
    assert error.error.row == 1 and "缺少列" in error.error.reason


# --- QQ 消息管理器 -----------------------------------------------------------------------------------------


def test_qq_sample():
    encoding, rows = records(FIXTURES / "qq_message_manager_export.txt", "qq")
    assert encoding == "utf-8-sig"
    assert [r.kind for r in rows] == ["text", "text", "text", "system", "text"]
    first = rows[0]
    assert (first.chat, first.sender_id, first.sender_name) == ("销售中心工作群", "10001001", "销售中心-王经理")
    assert first.sent_at == datetime(2026, 11, 2, 1, 0, 5, tzinfo=UTC)  # 9:00:05 China time, hour unpadded
    assert first.mentions_all  # @全体成员
    assert rows[2].sender_id == "lisi@example.com" and rows[2].text == "好的\n[图片]"
    assert rows[3].sender_id == "" and rows[3].text == "赵六加入本群。"
    assert rows[4].sent_at == datetime(2026, 11, 2, 15, 50, 9, tzinfo=UTC)


def test_qq_gbk_english_locale_title_repeats_and_blocks():
    encoding, rows = records(FIXTURES / "qq_gbk_english_locale.txt", "qq")
    assert encoding == "gb18030"
    boss, ack1, ack2, image, leave, multi, other = rows
    assert boss.sent_at == datetime(2026, 11, 2, 12, 43, 38, tzinfo=UTC)  # 8:43:38 PM China time
    assert boss.extra["title"] == "管理员" and boss.sender_name == "销售中心-王经理"
    assert boss.mentions == ["销售部-张三"]
    assert ack1.sent_at == datetime(2026, 11, 2, 1, 5, tzinfo=UTC)  # 9:05 AM
    # two identical 收到 in the same second: two messages, two keys
    assert ack1.key != ack2.key and ack1.key.rsplit("-", 1)[0] == ack2.key.rsplit("-", 1)[0]
    assert image.kind == "image" and image.sent_at == datetime(2026, 11, 1, 16, 30, tzinfo=UTC)  # 12:30 AM
    assert leave.kind == "system" and leave.text == "赵六退出了本群。"
    assert multi.text == "第一行\n\n第三行"
    assert other.chat == "另一个群" and boss.chat == "销售中心工作群"


def test_qq_keys_stable_across_exports(tmp_path):
    """The same message in two exports (another encoding, other neighbours) has the same key."""
    text = "\r\n".join(
        ["消息记录", SEP, "消息分组:群", SEP, "消息对象:销售中心工作群", SEP, "",
         "2026-11-02 9:03:41 销售部-张三(10001002)", "收到", ""]
    )  # fmt: skip
    path = write(tmp_path, "q.txt", text, "utf-16")
    (alone,) = messages(path, "qq")
    sample = messages(FIXTURES / "qq_message_manager_export.txt", "qq")
    assert alone.key == sample[1].key


def test_qq_bad_time_names_line():
    error = error_of(FIXTURES / "qq_bad_time.txt", "qq")
    assert (error.error.row, error.error.column) == (12, "时间")


def test_qq_content_before_any_header(tmp_path):
    text = "\n".join(["消息记录", SEP, "消息分组:群", SEP, "消息对象:销售群", SEP, "", "这一行不是消息头", ""])
    error = error_of(write(tmp_path, "q.txt", text), "qq")
    assert (error.error.row, error.error.column) == (8, "消息头")


def test_qq_pm_hour_out_of_range(tmp_path):
    text = "\n".join(
        ["消息记录", SEP, "消息分组:群", SEP, "消息对象:销售群", SEP, "", "2026-11-02 13:00:00 PM 张三(123456)", "x"]
    )
    error = error_of(write(tmp_path, "q.txt", text), "qq")
    assert (error.error.row, error.error.column) == (8, "时间")


def test_qq_not_an_export(tmp_path):
    error = error_of(write(tmp_path, "q.txt", "你好\n"), "qq")
    assert error.error.row == 1 and "消息对象" in error.error.reason


# --- common ------------------------------------------------------------------------------------------------


def test_detect_platform(tmp_path):
    assert detect_platform(FIXTURES / "wecom_msgaudit_decrypted.jsonl") == "wecom"
    assert detect_platform(FIXTURES / "wechatmsg_liuhen_group_utf8.csv") == "wechat"
    assert detect_platform(FIXTURES / "qq_message_manager_export.txt") == "qq"
    assert detect_platform(FIXTURES / "qq_gbk_english_locale.txt") == "qq"
    utf16 = tmp_path / "q.txt"
    utf16.write_bytes(codecs.BOM_UTF16_LE + "消息记录\n".encode("utf-16-le"))
    assert detect_platform(utf16) == "qq"
    assert detect_platform(write(tmp_path, "x.txt", "工号,姓名\n")) is None


def test_nul_byte_refused_with_line(tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_bytes(b'{"msgid":"a","action":"switch"}\n{"msgid\x00":1}\n')
    error = error_of(path, "wecom")
    assert error.error.row == 2


def test_parse_mentions():
    assert parse_mentions("@所有人 开会") == ([], True)
    assert parse_mentions("@all 开会") == ([], True)
    assert parse_mentions("邮箱 a@b.com 已发") == ([], False)
    assert parse_mentions("@张三 @张三\u2005@李四") == (["张三", "李四"], False)
    assert parse_mentions(None) == ([], False)
    # typed inside a sentence: a mention when the apps' U+2005 ends it, never an e-mail address
    assert parse_mentions("麻烦@销售部-王五\u2005把合同发我") == (["销售部-王五"], False)
    assert parse_mentions("通知@所有人\u2005明天开会") == ([], True)
    assert parse_mentions("发到 wang@example.com 谢谢") == ([], False)
    assert parse_mentions("价格@100元 已报") == ([], False)
