import pytest

from groups.models import ChatGroup, Department, Employee, Membership


def names(qs):
    return sorted(qs.values_list("name", flat=True))


def test_subtree_is_one_prefix_query(org, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert names(Department.objects.subtree(org["sales"])) == ["华东区", "销售部"]
    assert Employee.objects.in_subtree(org["sales"]).count() == 3
    assert Employee.objects.in_subtree(org["root"]).count() == 6


def test_name_path_follows_renames(org):
    assert org["east"].name_path == "总公司/销售部/华东区"
    sales = Department.objects.get(pk=org["sales"].pk)
    sales.name = "营销中心"
    sales.save()
    assert Department.objects.get(pk=org["east"].pk).name_path == "总公司/营销中心/华东区"


@pytest.mark.parametrize(
    ("who", "departments", "employees"),
    [
        ("hr", 4, 6),
        ("auditor", 4, 6),
        ("head_sales", 2, 3),
        ("head_tech", 1, 2),
        ("employee_user", 0, 1),
        ("outsider_user", 0, 0),
    ],
)
def test_visible_to_by_role(request, who, departments, employees):
    user = request.getfixturevalue(who)
    assert Department.objects.visible_to(user).count() == departments
    assert Employee.objects.visible_to(user).count() == employees


def test_department_head_does_not_see_sibling(org, head_sales, head_tech):
    assert not Employee.objects.visible_to(head_sales).filter(pk=org["tech_dev"].pk).exists()
    assert not Employee.objects.visible_to(head_tech).filter(pk=org["east_rep"].pk).exists()
    assert names(ChatGroup.objects.visible_to(head_tech)) == ["技术部工作群"]


def test_group_admin_sees_the_groups_roster(org, group_admin):
    Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    Membership.objects.create(group=org["tech_group"], employee=org["ceo"], nickname="王总")
    visible = Membership.objects.visible_to(group_admin)
    assert [m.nickname for m in visible] == ["华东区-张三"]
    assert "销售部工作群" in names(ChatGroup.objects.visible_to(group_admin))
    # ... and the roster's people, but not the rest of the sales department
    assert Employee.objects.visible_to(group_admin).filter(pk=org["east_rep"].pk).exists()
    assert not Employee.objects.visible_to(group_admin).filter(pk=org["sales_head"].pk).exists()
