"""Group roster import: snapshot semantics, matching by id / nickname convention / name, errors."""

import pytest
from django.utils import timezone

from groups.importing.errors import ImportValidationError
from groups.models import ChatGroup, Employee, Membership

from .import_helpers import run_roster, write_csv, write_xlsx

pytestmark = pytest.mark.django_db
HEADER = ["群昵称", "微信号", "入群时间", "群管理员", "邀请人"]


def snapshot(tmp_path, rows, name="r.csv", header=HEADER):
    return write_csv(tmp_path / name, [header, *rows])


def open_members(group):
    return {m.nickname: m for m in Membership.objects.filter(group=group, left_at__isnull=True)}


def test_members_are_matched_by_id_then_nickname_then_name(org, tmp_path):
    path = snapshot(
        tmp_path,
        [
            ["小李", "wx_li", "2026-01-05 09:00", "是", ""],  # platform id → 李销售
            ["销售部-张三", "", "", "", "E0100"],  # convention; 张三 is in 销售部/华东区 (an ancestor match)
            ["孙七", "", "", "", ""],  # unique name
            ["客户王先生", "wx_customer", "", "", ""],  # nobody: an outsider
        ],
    )
    preview = run_roster(path, group=org["sales_group"])
    summary = preview["summary"]
    assert summary["matched_by"] == {"id": 1, "nickname": 1, "name": 1}
    assert (summary["joined"], summary["outsiders"], summary["left"]) == (4, 1, 0)
    members = open_members(org["sales_group"])
    assert members["小李"].employee == org["sales_head"]
    assert members["小李"].is_admin is True
    assert timezone.localtime(members["小李"].joined_at).hour == 9
    assert members["销售部-张三"].employee == org["east_rep"]
    assert members["销售部-张三"].invited_by == org["sales_head"]
    assert members["孙七"].employee == org["tech_dev"]
    assert members["客户王先生"].employee is None


def test_nickname_convention_picks_the_right_namesake(org, tmp_path):
    Employee.objects.create(employee_no="E0300", name="张三", department=org["tech"])
    path = snapshot(tmp_path, [["技术部-张三", "", "", "", ""], ["张三", "", "", "", ""]])
    preview = run_roster(path, group=org["sales_group"])
    members = open_members(org["sales_group"])
    assert members["技术部-张三"].employee.employee_no == "E0300"
    assert members["张三"].employee is None  # two 张三: a bare name is ambiguous
    assert preview["summary"]["outsiders"] == 1


def test_full_width_dash_and_spaces_in_nicknames_still_match(org, tmp_path):
    run_roster(snapshot(tmp_path, [["技术部 — 孙七", "", "", "", ""]]), group=org["sales_group"])
    assert open_members(org["sales_group"])["技术部 — 孙七"].employee == org["tech_dev"]


def test_snapshot_sets_left_at_keeps_history_and_a_rejoin_is_a_new_row(org, tmp_path):
    group = org["sales_group"]
    run_roster(snapshot(tmp_path, [["小李", "wx_li", "", "", ""], ["孙七", "", "", "", ""]], "a.csv"), group=group)
    preview = run_roster(snapshot(tmp_path, [["小李", "wx_li", "", "", ""]], "b.csv"), group=group)
    assert preview["summary"]["left"] == 1
    assert preview["summary"]["unchanged"] == 1
    gone = Membership.objects.get(group=group, nickname="孙七")
    assert gone.left_at is not None and gone.left_at <= timezone.now()
    run_roster(snapshot(tmp_path, [["小李", "wx_li", "", "", ""], ["孙七", "", "", "", ""]], "c.csv"), group=group)
    rows = Membership.objects.filter(group=group, nickname="孙七").order_by("created_at")
    assert [m.left_at is None for m in rows] == [False, True]


def test_same_snapshot_twice_changes_nothing(org, tmp_path):
    path = snapshot(tmp_path, [["小李", "wx_li", "", "是", ""], ["客户", "", "", "", ""]])
    run_roster(path, group=org["sales_group"])
    stamps = list(Membership.objects.values_list("pk", "updated_at"))
    summary = run_roster(path, group=org["sales_group"])["summary"]
    assert summary["no_change"] is True
    assert list(Membership.objects.values_list("pk", "updated_at")) == stamps


def test_a_changed_nickname_updates_the_member_with_the_same_id(org, tmp_path):
    group = org["sales_group"]
    run_roster(snapshot(tmp_path, [["小李", "wx_li", "", "", ""]], "a.csv"), group=group)
    preview = run_roster(snapshot(tmp_path, [["销售部-李销售", "wx_li", "", "是", ""]], "b.csv"), group=group)
    assert preview["summary"]["updated"] == 1
    (member,) = Membership.objects.filter(group=group)
    assert (member.nickname, member.is_admin, member.left_at) == ("销售部-李销售", True, None)


def test_a_match_made_by_hand_survives_a_snapshot_that_cannot_match(org, tmp_path):
    group = org["sales_group"]
    run_roster(snapshot(tmp_path, [["老李的小号", "", "", "", ""]]), group=group)
    Membership.objects.filter(group=group).update(employee=org["sales_head"])
    run_roster(snapshot(tmp_path, [["老李的小号", "", "", "", ""]]), group=group)
    assert Membership.objects.get(group=group, left_at__isnull=True).employee == org["sales_head"]


def test_many_groups_in_one_xlsx_file(org, tmp_path):
    rows = [["群名称", "群昵称", "平台账号"], ["销售部工作群", "小李", "wx_li"], ["技术部工作群", "技术部-孙七", ""]]
    summary = run_roster(write_xlsx(tmp_path / "r.xlsx", rows))["summary"]
    assert (summary["groups"], summary["joined"]) == (2, 2)
    assert open_members(org["tech_group"])["技术部-孙七"].employee == org["tech_dev"]


def test_the_same_employee_on_two_lines_is_matched_once(org, tmp_path):
    preview = run_roster(
        snapshot(tmp_path, [["小李", "wx_li", "", "", ""], ["李销售", "", "", "", ""]]), org["sales_group"]
    )
    assert preview["summary"]["outsiders"] == 1
    assert "第3行" in preview["warnings"][0]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["", "wx", "", "", ""]], "第3行, 群昵称: 不能为空"),
        ([["甲", "", "昨天", "", ""]], "第3行, 入群时间: 无法识别的日期"),
        ([["甲", "", "2099-01-01", "", ""]], "第3行, 入群时间: 晚于当前时间"),
        ([["甲", "", "", "也许", ""]], "第3行, 群管理员: 应为 是/否"),
        ([["甲", "", "", "", "不存在的人"]], "第3行, 邀请人: 找不到员工 不存在的人"),
        ([["甲", "wx1", "", "", ""], ["乙", "wx1", "", "", ""]], "第4行, 群昵称: 成员重复(与第3行相同)"),
    ],
)
def test_bad_rows_refuse_the_whole_snapshot(org, tmp_path, rows, message):
    group = org["sales_group"]
    Membership.objects.create(group=group, nickname="老成员", employee=org["sales_head"])
    path = snapshot(tmp_path, [["好人", "wx_ok", "", "", ""], *rows])
    with pytest.raises(ImportValidationError) as info:
        run_roster(path, group=group)
    assert any(message in m for m in info.value.messages), info.value.messages
    assert list(Membership.objects.filter(group=group).values_list("nickname", "left_at")) == [("老成员", None)]


def test_unknown_group_and_missing_group_are_errors(org, tmp_path):
    rows = [["群名称", "群昵称"], ["不存在的群", "甲"], ["", "乙"]]
    with pytest.raises(ImportValidationError) as info:
        run_roster(write_csv(tmp_path / "r.csv", rows))
    assert info.value.messages == [
        "第2行, 群名称: 找不到正常状态的群 不存在的群",
        "第3行, 群名称: 未指定群(文件没有群名称,也没有选择目标群)",
    ]
    assert not Membership.objects.exists()


def test_groups_outside_the_users_scope_are_unknown(org, tmp_path, head_tech):
    rows = [["群名称", "群昵称"], ["销售部工作群", "甲"]]
    with pytest.raises(ImportValidationError, match="找不到正常状态的群"):
        run_roster(write_csv(tmp_path / "r.csv", rows), acting_user=head_tech)


def test_ambiguous_group_name_across_platforms(org, tmp_path):
    ChatGroup.objects.create(name="销售部工作群", platform="qq", kind="department", department=org["sales"])
    rows = [["群名称", "群昵称"], ["销售部工作群", "甲"]]
    with pytest.raises(ImportValidationError, match="不唯一"):
        run_roster(write_csv(tmp_path / "r.csv", rows))


def test_formula_like_nicknames_are_stored_as_text(org, tmp_path):
    run_roster(
        snapshot(tmp_path, [["=cmd|'/C calc'!A0", "", "", "", ""], ["@SUM(A1)", "", "", "", ""]]), org["sales_group"]
    )
    assert set(open_members(org["sales_group"])) == {"=cmd|'/C calc'!A0", "@SUM(A1)"}


def test_a_group_roster_import_triggers_reconciliation(org, django_capture_on_commit_callbacks, tmp_path):
    """After a roster import, reconciliation runs (here eagerly, on commit) and finds the departed member."""
    from groups.findings import RosterFinding
    from groups.services import create_import_job, import_group_roster

    path = tmp_path / "roster.csv"
    path.write_text("群昵称,微信号\n华东区-张三,wx_zhangsan\n华东区-赵六,wx_zhaoliu\n", encoding="utf-8")
    job = create_import_job(kind="group", acting_user=None, original_name="roster.csv", group=org["sales_group"])
    with django_capture_on_commit_callbacks(execute=True):
        import_group_roster(path, acting_user=None, job=job, group=org["sales_group"])
    departed = RosterFinding.objects.filter(kind="departed_member", status="open", group=org["sales_group"])
    assert [f.employee_id for f in departed] == [org["east_departed"].pk]
