"""The readers on export variants the faithful samples do not show: what a real company's files
hold (header-shaped chat lines, stray whitespace, other WeCom message types, WeChat system XML…)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from groups.chat.readers import detect_platform
from groups.chat.records import Skipped

from .test_chat_readers import SEP, error_of, messages, records, write

QQ_HEAD = [
    "消息记录（此消息记录为文本格式，不支持重新导入）",
    "",
    SEP,
    "消息分组:我的QQ群",
    SEP,
    "消息对象:销售中心工作群",
    SEP,
    "",
]
WECHAT_HEADER = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"


def qq(tmp_path, *lines, encoding="utf-8-sig"):
    return write(tmp_path, "q.txt", "\r\n".join([*QQ_HEAD, *lines, ""]), encoding)


def wecom(tmp_path, *rows):
    base = {"action": "send", "from": "ZhangSan", "tolist": [], "roomid": "wrR", "msgtime": 1793581205000}
    text = "\n".join(json.dumps({**base, "msgid": f"m{i}", **row}, ensure_ascii=False) for i, row in enumerate(rows))
    return write(tmp_path, "c.jsonl", text + "\n")


def wechat(tmp_path, *rows, header=WECHAT_HEADER):
    return write(tmp_path, "w.csv", "\r\n".join([header, *rows, ""]), "utf-8-sig")


# --- QQ ---------------------------------------------------------------------------------------------------


def test_qq_header_shaped_lines_inside_a_message_stay_content(tmp_path):
    path = qq(
        tmp_path,
        "2026-11-02 9:01:00 王经理(10001001)",
        "通知：",
        "2026-11-03 9:00:00 会议室(301)",
        "材料见‹会议纪要.docx>",
        "2026-11-03 9:30:00 纪要<会议纪要.docx>",
        "",
        "2026-11-02 9:02:00 张三(10001002)",
        "收到",
    )
    notice, ack = messages(path, "qq")
    assert (
        notice.text
        == "通知：\n2026-11-03 9:00:00 会议室(301)\n材料见‹会议纪要.docx>\n2026-11-03 9:30:00 纪要<会议纪要.docx>"
    )
    assert (ack.sender_id, ack.text, ack.line) == ("10001002", "收到", 15)


def test_qq_header_without_blank_line_from_a_known_sender_starts_a_message(tmp_path):
    path = qq(
        tmp_path,
        "2026-11-02 9:00:00 王经理(10001001)",
        "开会",
        "",
        "2026-11-02 9:01:00 张三(10001002)",
        "收到",
        "2026-11-02 9:02:00 王经理(10001001)",
        "好",
    )
    assert [(m.sender_id, m.text) for m in messages(path, "qq")] == [
        ("10001001", "开会"), ("10001002", "收到"), ("10001001", "好")
    ]  # fmt: skip


def test_qq_trailing_whitespace_on_a_header(tmp_path):
    path = qq(
        tmp_path, "2026-11-02 9:00:05 王经理(10001001) ", "第一条", "", "2026-11-02 9:01:05 张三(10001002)\t", "第二条"
    )
    first, second = messages(path, "qq")
    assert (first.sender_id, first.text) == ("10001001", "第一条")
    assert (second.sender_id, second.text, second.sent_at) == (
        "10001002",
        "第二条",
        datetime(2026, 11, 2, 1, 1, 5, tzinfo=UTC),
    )


def test_qq_a_line_of_equals_signs_inside_a_message(tmp_path):
    path = qq(
        tmp_path,
        "2026-11-02 9:00:05 王经理(10001001)",
        "通知",
        SEP,
        "内容",
        SEP,
        "",
        "2026-11-02 9:01:05 张三(10001002)",
        "收到",
    )
    notice, ack = messages(path, "qq")
    assert notice.text == f"通知\n{SEP}\n内容\n{SEP}" and ack.text == "收到" and ack.chat == "销售中心工作群"


def test_qq_a_new_block_after_a_message_still_starts_a_new_chat(tmp_path):
    path = qq(
        tmp_path, "2026-11-02 9:00:05 王经理(10001001)", "第一群", "",
        SEP, "消息分组:我的QQ群", SEP, "消息对象:另一个群", SEP, "", "2026-11-02 9:00:05 王经理(10001001)", "第一群",
    )  # fmt: skip
    first, second = messages(path, "qq")
    assert (first.chat, second.chat) == ("销售中心工作群", "另一个群")
    assert first.key == second.key  # a block's repeats are counted per block


def test_qq_utf8_without_bom_detected_whatever_the_4096th_byte(tmp_path):
    """A Chinese character (3 bytes) cut by the first 4,096 bytes read is no reason to guess GB18030."""
    cuts = set()
    for pad in range(3):  # one more byte at the start moves the cut through a character
        lines = [
            "消息记录（此消息记录为文本格式，不支持重新导入）",
            "",
            SEP,
            "消息分组:群",
            SEP,
            "消息对象:销售群",
            SEP,
            "",
        ]
        for i in range(80):
            lines += [
                f"2026-11-02 9:{i % 60:02d}:00 销售部-张三(10001002)",
                "x" * pad * (i == 0) + "收到，马上处理",
                "",
            ]
        path = write(tmp_path, f"q{pad}.txt", "\r\n".join(lines), "utf-8")
        cuts.add(len(path.read_bytes()[:4096].decode("utf-8", "ignore").encode()) < 4096)
        assert detect_platform(path) == "qq"
        assert len(messages(path, "qq")) == 80
    assert cuts == {True, False}


# --- WeCom ------------------------------------------------------------------------------------------------


def test_wecom_message_types_whose_body_has_another_key(tmp_path):
    path = wecom(
        tmp_path,
        {"from": "wbRobot", "msgtype": "markdown", "info": {"content": "**请查看** @张三\u2005"}},
        {"msgtype": "news", "info": {"item": [
            {"title": "限时特惠", "description": "领券", "url": "http://ad.example/x", "picurl": "http://p"},
            {"title": "第二条", "url": "http://ad.example/y"}]}},
        {"msgtype": "mixed", "mixed": {"item": [
            {"type": "text", "content": json.dumps({"content": "@所有人 加我微信领优惠"}, ensure_ascii=False)},
            {"type": "image", "content": json.dumps({"md5sum": "x"})}]}},
        {"msgtype": "mixed", "mixed": {"item": [{"type": "image", "content": "{}"}]}},
        {"msgtype": "docmsg", "doc": {"title": "周报", "link_url": "https://doc.weixin.qq.com/x", "doc_creator": "a"}},
        {"msgtype": "external_redpacket",
         "redpacket": {"type": 1, "wish": "恭喜发财", "totalcnt": 1, "totalamount": 3000}},
        {"msgtype": "markdown", "markdown": {"content": "旧的写法"}},
    )  # fmt: skip
    markdown, news, mixed, picture, doc, redpacket, old = messages(path, "wecom")
    assert (markdown.kind, markdown.text, markdown.mentions) == ("text", "**请查看** @张三\u2005", ["张三"])
    assert (news.kind, news.link_url, news.link_title, news.text) == (
        "link", "http://ad.example/x", "限时特惠", "限时特惠\n领券\n第二条"
    )  # fmt: skip
    assert (mixed.kind, mixed.text, mixed.mentions_all) == ("text", "@所有人 加我微信领优惠", True)
    assert picture.kind == "image" and picture.text is None
    assert (doc.kind, doc.link_url, doc.link_title) == ("link", "https://doc.weixin.qq.com/x", "周报")
    assert (redpacket.kind, redpacket.text, redpacket.extra["totalamount"]) == ("redpacket", "恭喜发财", 3000)
    assert old.text == "旧的写法"


def test_wecom_markdown_without_content_names_its_body(tmp_path):
    error = error_of(wecom(tmp_path, {"msgtype": "markdown", "info": {}}), "wecom")
    assert (error.error.row, error.error.column) == (1, "info.content")


def test_wecom_msgtime_in_seconds_refused(tmp_path):
    error = error_of(wecom(tmp_path, {"msgtype": "text", "text": {"content": "a"}}, {"msgtime": 1793581205}), "wecom")
    assert (error.error.row, error.error.column) == (2, "msgtime") and "1793581205" in error.error.reason


def test_wecom_nul_escapes_dropped(tmp_path):
    (message,) = messages(wecom(tmp_path, {"msgtype": "text", "text": {"content": "a\u0000b"}}), "wecom")
    assert message.text == "ab"


def test_wecom_line_without_roomid_is_one_to_one(tmp_path):
    path = tmp_path / "c.jsonl"
    line = {
        "msgid": "a",
        "action": "send",
        "from": "X",
        "msgtime": 1793581205000,
        "msgtype": "text",
        "text": {"content": "单聊"},
    }
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    (row,) = records(path, "wecom")[1]
    assert isinstance(row, Skipped) and row.reason == "one_to_one"


# --- WeChatMsg --------------------------------------------------------------------------------------------


def test_wechat_system_xml_recall_without_sender(tmp_path):
    revoke = (
        '<sysmsg type="revokemsg"><revokemsg><session>7@chatroom</session><oldmsgid>1</oldmsgid>'
        '<replacemsg><![CDATA["李四" 撤回了一条消息]]></replacemsg></revokemsg></sysmsg>'
    )
    path = wechat(
        tmp_path,
        "1,7,1,0,0,1793581205,3,收到,t,李四,Li,wxid_li",
        f'2,7,10002,0,0,1793581206,3,"{revoke.replace(chr(34), chr(34) * 2)}",t,,,',
    )
    ack, recall = messages(path, "wechat")
    assert (recall.kind, recall.sender_id, recall.text) == ("system", "", '"李四" 撤回了一条消息')
    assert ack.sender_id == "wxid_li"


def test_wechat_app_message_entities_and_urls(tmp_path):
    link = "<msg><appmsg><title>限时特惠 &amp; 领券 &lt;仅今天&gt;</title><url>http://mp.example/s?a=1&amp;b=2</url></appmsg></msg>"
    cdata = "<msg><appmsg><title><![CDATA[A &amp; B]]></title></appmsg></msg>"
    path = wechat(
        tmp_path,
        f"1,7,49,5,0,1793581205,3,{link},t,王经理,Wang,wxid_w",
        f"2,7,49,57,0,1793581206,3,{cdata},t,王经理,Wang,wxid_w",
        "3,7,49,5,0,1793581207,3,看看这个 https://example.com/p?id=1，很好,t,王经理,Wang,wxid_w",
        "4,7,49,5,0,1793581208,3,见 https://example.com/q.,t,王经理,Wang,wxid_w",
    )
    entity, quote, plain, dotted = messages(path, "wechat")
    assert (entity.link_url, entity.link_title) == ("http://mp.example/s?a=1&b=2", "限时特惠 & 领券 <仅今天>")
    assert quote.text == "A &amp; B"  # CDATA is not decoded
    assert plain.link_url == "https://example.com/p?id=1"
    assert dotted.link_url == "https://example.com/q"


def test_wechat_header_with_a_trailing_empty_column(tmp_path):
    path = wechat(tmp_path, "1,7,1,0,0,1793581205,3,收到,t,李四,Li,wxid_li", header=WECHAT_HEADER + ",")
    (message,) = messages(path, "wechat")
    assert message.text == "收到"


def test_wechat_columns_in_another_order_detected(tmp_path):
    header = "TalkerId,localId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender,Extra"
    path = wechat(tmp_path, "7,1,1,0,0,1793581205,3,收到,t,李四,Li,wxid_li,x", header=header)
    assert detect_platform(path) == "wechat"
    (message,) = messages(path, "wechat")
    assert (message.key, message.sender_id) == ("7:1", "wxid_li")
