"""The readers and the import on inputs the samples and the variant tests do not show: what other
real exports, editors and truncated copies hand us (huge cells, half emoji, NaN, a BOM-only file,
a cut-off last header, a long QQ export's memory)."""

from __future__ import annotations

import json
import tracemalloc
from datetime import datetime, timedelta

import pytest

from groups.chat import store
from groups.chat.models import ChatMessage
from groups.chat.readers import read_chat
from groups.choices import ImportStatus
from groups.importing.readers import detect_encoding

from .chat_helpers import ROOM, qq_group, wecom_group
from .test_chat_readers import error_of, messages, write
from .test_chat_readers_variants import QQ_HEAD, WECHAT_HEADER, qq, wechat


def run(path, group, platform=""):
    return store.import_chat_file(path, group=group, acting_user=None, platform=platform)


# --- WeChatMsg CSV ------------------------------------------------------------------------------------


def test_wechat_strcontent_beyond_csvs_default_cell_limit(tmp_path):
    """csv refuses a cell over 131,072 characters by default: a forwarded chat record's XML or a
    pasted document is longer. Such a row was refused as "引号未闭合或 CSV 格式错误"."""
    long = "长" * 200_000
    path = wechat(tmp_path, f'1,7,1,0,0,1793581205,3,"{long}",2026-11-02 09:00:05,王经理,Wang,wxid_a')
    [record] = messages(path, "wechat")
    assert record.text == long and record.sender_id == "wxid_a"


# --- WeCom JSON Lines ---------------------------------------------------------------------------------


def _wecom_line(msgid: str, body: str) -> str:
    return (
        f'{{"msgid":"{msgid}","action":"send","from":"ZhangSan","tolist":[],"roomid":"{ROOM}",'
        f'"msgtime":1793581205000,{body}}}'
    )


@pytest.mark.django_db
def test_wecom_lone_surrogate_escape_is_replaced_not_a_crash(org, tmp_path):
    """Half an emoji (``\\ud83d`` without its pair) is valid JSON but cannot be encoded: the preview
    crashed with UnicodeEncodeError writing its spool. It is read as U+FFFD; a whole pair stays."""
    path = write(
        tmp_path,
        "c.jsonl",
        _wecom_line("m1", '"msgtype":"text","text":{"content":"好\\ud83d"}')
        + "\n"
        + _wecom_line("m2", '"msgtype":"text","text":{"content":"\\ud83d\\ude00"}')
        + "\n",
    )
    job = run(path, wecom_group(org))
    assert job.status == ImportStatus.DONE, job.errors
    texts = dict(ChatMessage.objects.values_list("natural_key", "text"))
    assert texts == {"m1": "好\ufffd", "m2": "\U0001f600"}


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_wecom_non_finite_number_refused_with_its_line(org, tmp_path, number):
    """``NaN`` / ``Infinity`` are no JSON, yet Python reads them: kept in ``extra`` the row broke
    SQLite's JSON check and INSERT OR IGNORE dropped it silently, counted as a duplicate."""
    good = _wecom_line("m1", '"msgtype":"image","image":{"filesize":5}')
    bad = _wecom_line("m2", f'"msgtype":"image","image":{{"filesize":{number}}}')
    path = write(tmp_path, "c.jsonl", f"{good}\n{bad}\n")
    job = run(path, wecom_group(org))
    assert job.status == ImportStatus.INVALID
    assert job.errors == ["第2行, JSON: 不是有效的 JSON(每行应是一条解密后的消息)"]
    assert not ChatMessage.objects.exists()


# --- empty files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n \r\n", b"\xff\xfe", b"\xff\xfe\r\x00\n\x00"])
def test_a_file_of_its_bom_alone_is_empty(tmp_path, content):
    """Notepad saves an empty file as its BOM: the encoding check crashed (``max()`` of an empty
    line) or the file passed as one without messages."""
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    assert str(error_of(path, "qq")) == "文件: 文件为空"


def test_a_bom_then_a_blank_first_line(tmp_path):
    row = json.dumps({"msgid": "m1", "action": "send", "from": "Z", "roomid": "r", "msgtime": 1793581205000,
                      "msgtype": "text", "text": {"content": "hi"}})  # fmt: skip
    path = write(tmp_path, "c.jsonl", f"\n{row}\n", "utf-8-sig")
    assert [r.text for r in messages(path, "wecom")] == ["hi"]


# --- QQ -----------------------------------------------------------------------------------------------


def test_qq_truncated_last_header_refused(tmp_path):
    """A copy cut inside the last header: the cut header was read as a line of the message before,
    so that message changed its text (and key: a re-import of the whole export stored it twice)."""
    path = qq(tmp_path, "2026-11-02 9:00:05 张三(10001)", "收到", "", "2026-11-02 9:01:00 李")
    path.write_bytes(path.read_bytes().rstrip(b"\r\n"))  # no line end: the file stops mid-line
    error = error_of(path, "qq")
    assert error.error.row == len(QQ_HEAD) + 4 and error.error.column == "消息头"
    assert "不完整的消息头" in str(error)


def test_qq_timestamped_last_content_line_with_its_line_end_is_content(tmp_path):
    path = qq(tmp_path, "2026-11-02 9:00:05 张三(10001)", "日志:", "", "2026-11-02 08:59:59 ERROR 超时")
    [record] = messages(path, "qq")
    assert record.text == "日志:\n\n2026-11-02 08:59:59 ERROR 超时"


def test_qq_truncated_utf16_header_refused(tmp_path):
    path = qq(tmp_path, "2026-11-02 9:00:05 张三(10001)", "收到", "", "2026-11-02 9:01:00 李", encoding="utf-16")
    path.write_bytes(path.read_bytes()[:-4])  # the final CRLF (two UTF-16 units) cut off
    assert "不完整的消息头" in str(error_of(path, "qq"))


def _qq_export(path, count: int, step: timedelta) -> None:
    start = datetime(2026, 11, 2, 9)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        fh.write("\r\n".join(QQ_HEAD) + "\r\n")
        for i in range(count):
            t = start + step * i
            fh.write(f"{t:%Y-%m-%d} {t.hour}:{t:%M:%S} 张三{i % 50}({10000 + i % 50})\r\n消息 {i}\r\n\r\n")


def _peak(path) -> int:
    """The reader's peak memory (the encoding check before it reads in chunks of its own)."""
    _encoding, rows = read_chat(path, "qq")
    tracemalloc.start()
    try:
        assert sum(1 for _row in rows) > 0  # streamed: no list of the records
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_qq_memory_flat_over_a_long_export(tmp_path):
    """The repeat counter kept every message's hash for the whole block: ~120 bytes a message (a
    10-million-message export, over a gigabyte). Only a day's window is kept now."""
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    _qq_export(small, 3_000, timedelta(minutes=5))
    _qq_export(large, 30_000, timedelta(minutes=5))
    assert _peak(large) - _peak(small) < 1024 * 1024


def test_qq_repeats_still_numbered_within_the_window(tmp_path):
    path = qq(
        tmp_path,
        "2026-11-02 9:00:05 张三(10001)",
        "收到",
        "",
        "2026-11-02 9:00:05 张三(10001)",
        "收到",
        "",
        "2026-11-04 9:00:05 张三(10001)",
        "收到",
        "",
    )
    keys = [r.key for r in messages(path, "qq")]
    assert [k[-2:] for k in keys] == ["-1", "-2", "-1"] and keys[0][:-2] == keys[1][:-2] != keys[2][:-2]


@pytest.mark.django_db
def test_qq_truncated_copy_then_the_full_export_adds_nothing_twice(org, tmp_path):
    group = qq_group(org)
    full = qq(tmp_path, "2026-11-02 9:00:05 张三(10001)", "收到", "", "2026-11-02 9:01:00 李四(10002)", "好的", "")
    assert run(full, group).created_count == 2
    cut = tmp_path / "cut.txt"
    cut.write_bytes(full.read_bytes()[: full.read_bytes().index("李四".encode())])
    assert run(cut, group).status == ImportStatus.INVALID
    assert ChatMessage.objects.filter(group=group).count() == 2


# --- encodings and line ends --------------------------------------------------------------------


def test_wechat_excel_unicode_text_save_is_tab_separated(tmp_path):
    """Excel's "Unicode text" save of the export: UTF-16 with BOM, tab-separated. Every column was
    reported missing; the roster import reads such a file, and so does this reader now."""
    header = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"
    row = ["1", "7", "1", "0", "0", "1793581205", "3", '"多行\r\n内容, ""引号"""', "2026-11-02 09:00:05", "王经理"]
    text = "\t".join(header.split(",")) + "\r\n" + "\t".join([*row, "Wang", "wxid_a"]) + "\r\n"
    path = write(tmp_path, "w.txt", text, "utf-16")
    [record] = messages(path, "wechat")
    assert (record.key, record.text, record.sender_id) == ("7:1", '多行\r\n内容, "引号"', "wxid_a")


def _lone_cr_export(path, count: int) -> None:
    with path.open("w", encoding="gb18030", newline="") as fh:
        fh.write("\r".join(QQ_HEAD) + "\r")
        for i in range(count):
            fh.write(f"2026-11-02 9:{i // 60 % 60:02d}:{i % 60:02d} 张三{i % 50}({10000 + i % 50})\r消息 {i}\r\r")


def test_lone_cr_file_checked_line_by_line_not_held_whole(tmp_path):
    """The encoding check split lines on LF only: a file of lone CRs (old Mac line ends) was one
    line, read into memory whole (three times its size at the peak)."""
    path = tmp_path / "cr.txt"
    _lone_cr_export(path, 200_000)  # about 9 MB
    tracemalloc.start()
    try:
        assert detect_encoding(path) == "gb18030"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < path.stat().st_size


def test_lone_cr_file_mixed_encoding_names_its_line(tmp_path):
    path = tmp_path / "cr.txt"
    text = "\r".join([*QQ_HEAD, "2026-11-02 9:00:05 张三(10001)", "收到", ""])
    path.write_bytes(text.encode("gb18030") + "\r2026-11-02 9:00:06 李四(10002)\r好的\r".encode())
    error = error_of(path, "qq")
    assert error.error.row == len(QQ_HEAD) + 4 and "混用" in str(error)  # the line of 李四


# --- ids longer than the message store holds --------------------------------------------------------


def test_an_id_longer_than_the_store_holds_is_refused_with_its_line_and_field(tmp_path):
    """A sender id or a message key over 200 characters: PostgreSQL refused the write with a
    traceback (SQLite, which keeps no lengths, stored it). Each reader names the line and field."""
    long = "x" * 201
    path = wechat(tmp_path, f"1,7,1,0,0,1793581205,3,早,2026-11-02 09:00:05,王经理,Wang,{long}")
    error = error_of(path, "wechat")
    assert (error.error.row, error.error.column) == (2, "Sender") and "200" in str(error)
    path = wechat(tmp_path, f"1,{'w' * 195}@chatroom,1,0,0,1793581205,3,早,2026-11-02 09:00:05,王经理,Wang,wxid_a")
    error = error_of(path, "wechat")
    assert (error.error.row, error.error.column) == (2, "TalkerId")
    ok = wechat(tmp_path, f"1,{'w' * 189}@chatroom,1,0,0,1793581205,3,早,2026-11-02 09:00:05,王经理,Wang,{'y' * 200}")
    [record] = messages(ok, "wechat")
    assert len(record.key) == 200 and len(record.sender_id) == 200
    path = write(tmp_path, "c.jsonl", _wecom_line("m1", '"msgtype":"text","text":{"content":"早"}').replace(
        '"from":"ZhangSan"', f'"from":"{long}"') + "\n")  # fmt: skip
    error = error_of(path, "wecom")
    assert (error.error.row, error.error.column) == (1, "from")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_its_bom_is_named_as_such(tmp_path, encoding):
    """A file saved as UTF-16 without a BOM: every other byte of its ASCII lines is NUL. It was
    refused as "包含空字符(NUL),文件已损坏或不是文本文件"; the message now says what it is."""
    from groups.importing.errors import ImportFileError

    path = write(
        tmp_path, "w.csv", "\r\n".join([WECHAT_HEADER, "1,7,1,0,0,1793581205,3,早,x,王经理,Wang,wxid_a", ""]), encoding
    )
    with pytest.raises(ImportFileError, match="不带 BOM 的 UTF-16") as caught:
        detect_encoding(path)
    assert caught.value.error.row == 1
    stray = write(tmp_path, "s.csv", "name,no\r\n张三,E1\x00\r\n", "utf-8")  # one NUL in a text file
    with pytest.raises(ImportFileError, match="包含空字符"):
        detect_encoding(stray)
