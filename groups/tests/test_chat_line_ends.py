"""Line ends and WeCom's roomid: a file written with LF, CRLF, CR CR LF (a Windows tool that doubled
the CR) or lone CRs (old Mac, some exporters) is read by every reader as the same messages, its
errors on the same line; the encoding check and the progress bar's line count split lines so too.
A WeCom ``"roomid": null`` is one-to-one, as ``""`` and a missing roomid are."""

from __future__ import annotations

import json
import random
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from groups.chat import jobs, store
from groups.chat.models import ChatImport, ChatMessage
from groups.chat.readers import detect_platform, read_chat
from groups.chat.records import Skipped
from groups.choices import ImportStatus
from groups.importing import readers
from groups.importing.errors import ImportFileError
from groups.importing.readers import count_lines, count_rows, detect_encoding, open_table, text_lines

from .chat_helpers import ROOM, wecom_group, wecom_row
from .import_helpers import EMP_HEADER
from .test_chat_readers import write
from .test_chat_readers_variants import QQ_HEAD, WECHAT_HEADER

LINE_ENDS = {"lf": "\n", "crlf": "\r\n", "crcrlf": "\r\r\n", "cr": "\r"}
ENCODINGS = ["utf-8-sig", "gb18030", "utf-16"]

QQ_LINES = [
    *QQ_HEAD,
    "2026-11-02 9:00:05 王经理(10001001)",
    "@全体成员 通知:",
    "2026-11-03 9:00:00 会议室(301)",
    "",
    "请准时参加",
    "",
    "",
    "2026-11-02 9:00:06 张三(10001002)",
    "收到",
    "",
    "2026-11-02 9:00:07 小李<lisi@example.com>",
    "[图片]",
    "",
]
WECHAT_LINES = [
    WECHAT_HEADER,
    "1,7,1,0,0,1793581205,3,早,2026-11-02 09:00:05,王经理,Wang,wxid_a",
    "",
    "2,7,3,0,0,1793581206,3,,2026-11-02 09:00:06,李四,Li,wxid_b",
    "3,7,10000,0,0,1793581207,3,张三加入了群聊,2026-11-02 09:00:07,,,",
]
WECOM_LINES = [
    wecom_row("m1", "第一条"),
    "",
    wecom_row("m2", "单聊", roomid=""),
    json.dumps({"msgid": "sw", "action": "switch", "time": 1793581205000, "user": "ZhangSan"}),
    "",
    "",
    wecom_row("m3", "@所有人\u2005收到请回复"),
]
SAMPLES = {"qq": QQ_LINES, "wechat": WECHAT_LINES, "wecom": WECOM_LINES}


def _file(tmp_path, lines, end, encoding="utf-8-sig", *, last_end=True, name="f.txt"):
    return write(tmp_path, name, end.join(lines) + (end if last_end else ""), encoding)


def _records(path, platform):
    encoding, rows = read_chat(path, platform)
    return encoding, list(rows)


def _error(path, platform) -> str:
    with pytest.raises(ImportFileError) as caught:
        _records(path, platform)
    return str(caught.value)


@pytest.fixture(params=[1, 2, 3, 7, 64])
def small_chunks(request, monkeypatch):
    """The encoding check and the line count read in chunks: cut them inside every CR CR LF."""
    monkeypatch.setattr(readers, "CHUNK", request.param)


# --- the readers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", SAMPLES)
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("end", ["crlf", "crcrlf", "cr"])
@pytest.mark.parametrize("last_end", [True, False])
def test_every_reader_reads_every_line_end_as_lf(tmp_path, platform, encoding, end, last_end):
    """CR CR LF was read as two line ends: every line followed by a phantom blank one, so line
    numbers doubled and QQ texts gained blank lines (and other keys: imported twice)."""
    lines = SAMPLES[platform]
    expected = _records(_file(tmp_path, lines, "\n", encoding, name="lf.txt"), platform)
    path = _file(tmp_path, lines, LINE_ENDS[end], encoding, last_end=last_end)
    assert detect_platform(path) == platform
    assert _records(path, platform) == expected
    assert sum(not isinstance(r, Skipped) for r in expected[1]) == {"qq": 3, "wechat": 3, "wecom": 2}[platform]


@pytest.mark.parametrize(
    ("platform", "lines", "bad", "message"),
    [
        ("qq", QQ_LINES, "2026-11-02 25:00:08 张三(10001002)", "第22行, 时间: 不是有效的时间“2026-11-02 25:00:08”"),
        ("wechat", WECHAT_LINES, "4,7,1,0,0,后来,3,早,x,王经理,Wang,wxid_a",
         "第6行, CreateTime: 应为整数,实际为“后来”"),
        ("wecom", WECOM_LINES, '{"msgid":"z","action":"send","roomid":"r","from":"a","msgtime":-1}',
         "第8行, msgtime: 应为毫秒时间戳(UTC)"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("end", LINE_ENDS)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_errors_name_the_same_line_whatever_the_line_end(tmp_path, platform, lines, bad, message, end, encoding):
    path = _file(tmp_path, [*lines, bad], LINE_ENDS[end], encoding)
    assert _error(path, platform) == message


@pytest.mark.parametrize("end", LINE_ENDS)
def test_wechat_multiline_cell_reads_as_in_the_crlf_file(tmp_path, end):
    """A quoted cell keeps its line ends as the file has them (CRLF, LF or CR): only a doubled CR
    is read as the one line end it stands for, as the rows' own line ends are."""
    nl = LINE_ENDS[end]
    row = f'1,7,1,0,0,1793581205,3,"第一行{nl}第二行{nl}{nl}第四行",x,王经理,Wang,wxid_a'
    path = _file(tmp_path, [WECHAT_HEADER, row, "2,7,1,0,0,1793581206,3,晚,x,王经理,Wang,wxid_a"], nl)
    first, second = (r for r in _records(path, "wechat")[1])
    kept = {"crcrlf": "\r\n"}.get(end, nl)
    assert first.text == f"第一行{kept}第二行{kept}{kept}第四行" and (first.line, second.line) == (2, 6)


def test_qq_blank_lines_of_a_crcrlf_file_are_blank_lines(tmp_path):
    """A blank line is written CR CR LF too: the text keeps its inner blank line, no more."""
    path = _file(tmp_path, [*QQ_HEAD, "2026-11-02 9:00:05 张三(10001)", "一", "", "二", "", "", ""], "\r\r\n")
    [record] = list(_records(path, "qq")[1])
    assert (record.line, record.text) == (len(QQ_HEAD) + 1, "一\n\n二")


def test_qq_cut_last_header_refused_in_a_cr_file(tmp_path):
    path = _file(tmp_path, [*QQ_HEAD, "2026-11-02 9:00:05 张三(10001)", "收到", "", "2026-11-02 9:01:00 李"], "\r",
                 last_end=False)  # fmt: skip
    assert _error(path, "qq").startswith(f"第{len(QQ_HEAD) + 4}行, 消息头: 最后一行是不完整的消息头")


# --- the encoding check (shared with the roster import) ---------------------------------------------


@pytest.mark.parametrize("end", LINE_ENDS)
def test_mixed_encoding_names_its_line_whatever_the_line_end(tmp_path, end, small_chunks):
    nl = LINE_ENDS[end]
    head = nl.join(["消息记录", "", "张三", "", "", "收到", ""]).encode("gb18030")
    path = tmp_path / "m.txt"
    path.write_bytes(head + nl.join(["李四", "好的", ""]).encode())
    with pytest.raises(ImportFileError, match="混用") as caught:
        detect_encoding(path)
    assert caught.value.error.row == 7  # the line of 李四


@pytest.mark.parametrize("end", LINE_ENDS)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_nul_names_its_line_whatever_the_line_end(tmp_path, end, encoding, small_chunks):
    nl = LINE_ENDS[end]
    path = write(tmp_path, "n.txt", nl.join(["工号,姓名", "", "E1,张三", "", "E2,李\x00四", ""]), encoding)
    with pytest.raises(ImportFileError, match="空字符") as caught:
        detect_encoding(path)
    assert caught.value.error.row == 5


# --- the line count of the progress bar ------------------------------------------------------------


@pytest.mark.parametrize("end", LINE_ENDS)
@pytest.mark.parametrize("encoding", [*ENCODINGS, "utf-16-be"])
@pytest.mark.parametrize("last_end", [True, False])
def test_lines_counted_whatever_the_line_end(tmp_path, end, encoding, last_end, small_chunks):
    """The progress total counted LFs alone: a CR-only file had no lines (the bar was full at the
    first report) and a UTF-16 file could count a CJK character pair as a line end."""
    lines = ["消息记录", "", "", "张三", "ਊ一", "", "收到"]  # "ਊ一": 0A 0A 00 4E in UTF-16-LE
    bom = "\ufeff" if encoding == "utf-16-be" else ""
    path = _file(tmp_path, [bom + lines[0], *lines[1:]], LINE_ENDS[end], encoding, last_end=last_end)
    assert count_lines(path) == 7
    assert count_rows(path) == 6


def test_chat_line_count_is_not_capped_at_the_roster_row_cap(tmp_path, settings):
    settings.ROSTER_MAX_ROWS = 5
    path = _file(tmp_path, [wecom_row(f"m{i}") for i in range(20)], "\r")
    assert count_lines(path) == 20 and count_rows(path) == 6


@pytest.mark.django_db
@pytest.mark.parametrize("end", LINE_ENDS)
def test_preview_progress_of_a_large_file_counts_its_lines(org, settings, monkeypatch, end):
    """The worker's progress: total lines as the reader numbers them, each report a line reached
    below it (a CR-only file had a total of 1, a CR CR LF file reported twice its lines)."""
    settings.CHAT_IMPORT_ASYNC_BYTES = 100
    settings.ROSTER_MAX_ROWS = 10  # the roster's cap is no chat file's
    monkeypatch.setattr(store, "PROGRESS_EVERY", 10)
    reported: list[tuple[int, int]] = []
    original = jobs._progress

    def spy(job):
        report = original(job)

        def recorded(line: int) -> None:
            report(line)
            reported.append(tuple(ChatImport.objects.values_list("processed_lines", "total_lines").get(pk=job.pk)))

        return recorded

    monkeypatch.setattr(jobs, "_progress", spy)
    nl = LINE_ENDS[end]
    text = nl.join(wecom_row(f"m{i}", msgtime=1793581205000 + i) for i in range(50)) + nl
    job = store.create_chat_import(
        group=wecom_group(org), acting_user=None, platform="wecom", upload=SimpleUploadedFile("a.jsonl", text.encode())
    )
    job = jobs.preview_job(job.pk)
    assert job.status == ImportStatus.PREVIEWED and job.message_count == 50
    assert reported == [(n, 50) for n in (10, 20, 30, 40, 50)]
    assert (job.processed_lines, job.total_lines, job.progress_percent) == (50, 50, 100)


# --- the roster import reads its CSV the same way ------------------------------------------------------


@pytest.mark.parametrize("end", LINE_ENDS)
def test_roster_csv_rows_numbered_as_lines_whatever_the_line_end(tmp_path, end):
    rows = [",".join(EMP_HEADER), "E1,张三,总公司,,在职,,,", "", "E2,李四,总公司,,在职,,,"]
    path = _file(tmp_path, rows, LINE_ENDS[end], "gb18030", name="r.csv")
    table = open_table(path)
    assert table.header == EMP_HEADER
    assert [(n, cells[1]) for n, cells in table.rows()] == [(2, "张三"), (4, "李四")]


# --- WeCom roomid ------------------------------------------------------------------------------------


def _wecom_raw(**fields) -> str:
    row = {"msgid": "x", "action": "send", "from": "ZhangSan", "tolist": [], "msgtime": 1793581205000,
           "msgtype": "text", "text": {"content": "单聊"}, **fields}  # fmt: skip
    return json.dumps(row, ensure_ascii=False)


def test_wecom_roomid_null_or_missing_is_one_to_one(tmp_path):
    """``"roomid": null`` (a re-serialiser's nil) was refused as a bad file; it is a one-to-one
    chat, as ``""`` and a missing roomid are."""
    missing = json.loads(_wecom_raw())
    lines = [_wecom_raw(roomid=None), _wecom_raw(roomid=""), json.dumps(missing), wecom_row("m1")]
    path = write(tmp_path, "c.jsonl", "\n".join(lines) + "\n")
    rows = _records(path, "wecom")[1]
    assert rows[:3] == [Skipped(1, "one_to_one"), Skipped(2, "one_to_one"), Skipped(3, "one_to_one")]
    assert rows[3].chat == ROOM


@pytest.mark.parametrize(("value", "shown"), [(5, "5"), ([], "[]"), (["wrR"], '["wrR"]'), ({}, "{}"), (True, "true")])
def test_wecom_roomid_of_a_wrong_type_refused_with_line_and_field(tmp_path, value, shown):
    path = write(tmp_path, "c.jsonl", wecom_row("m1") + "\n\n" + _wecom_raw(roomid=value) + "\n")
    assert _error(path, "wecom") == f"第3行, roomid: 群ID应为字符串(单聊为空字符串),实际为“{shown}”"


@pytest.mark.django_db
def test_wecom_null_roomid_counted_as_one_to_one_in_the_import(org, tmp_path):
    lines = [wecom_row("m1"), _wecom_raw(msgid="n", roomid=None), _wecom_raw(msgid="e", roomid=""), wecom_row("m2")]
    path = write(tmp_path, "c.jsonl", "\r".join(lines) + "\r")
    job = store.import_chat_file(path, group=wecom_group(org), acting_user=None, platform="wecom")
    assert job.status == ImportStatus.DONE, job.errors
    assert job.preview["skipped"] == {"one_to_one": 2} and job.created_count == 2
    assert set(ChatMessage.objects.values_list("natural_key", flat=True)) == {"m1", "m2"}


# --- the three splitters agree ------------------------------------------------------------------------


def _reference_lines(text: str) -> list[str]:
    if not text:
        return []
    lines = re.split(r"\r*\n|\r", text)
    return lines[:-1] if lines[-1] == "" else lines


@pytest.mark.parametrize("seed", range(40))
def test_line_count_encoding_check_and_readers_split_alike(tmp_path, monkeypatch, seed):
    """Random runs of CRs and LFs, cut into chunks of every size: the progress total, the encoding
    check's line numbers and the readers' lines are the same lines."""
    rng = random.Random(seed)
    text = "".join(rng.choice(["a", "一", "\r", "\r", "\n"]) for _ in range(rng.randint(0, 60)))
    expected = _reference_lines(text)
    path = tmp_path / "r.txt"
    path.write_bytes(text.encode())
    with path.open(encoding="utf-8", newline="") as fh:
        assert [line.rstrip("\r\n") for line in text_lines(fh)] == expected
    for size in (1, 2, 3, 5, 8, 1 << 20):
        monkeypatch.setattr(readers, "CHUNK", size)
        assert count_lines(path) == len(expected)
        if expected:  # a NUL on the last line is named on it
            path.write_bytes(text.encode() + b"\x00")
            with pytest.raises(ImportFileError) as caught:
                detect_encoding(path)
            assert caught.value.error.row == len(expected) + (text[-1] in "\r\n")
            path.write_bytes(text.encode())
