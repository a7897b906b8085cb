import pytest
from django.core.exceptions import ValidationError

from groups import nicknames


@pytest.mark.parametrize(
    ("convention", "nickname", "expected"),
    [
        ("{department}-{name}", "销售部-张三", {"department": "销售部", "name": "张三"}),
        ("{department}-{name}", "销售部 — 张三", {"department": "销售部", "name": "张三"}),
        ("{department}-{name}", "销售部－张三", {"department": "销售部", "name": "张三"}),
        ("{subsidiary}-{name}", "华东区-李四", {"subsidiary": "华东区", "name": "李四"}),
        ("{name}", "王五", {"name": "王五"}),
    ],
)
def test_parse(convention, nickname, expected):
    assert nicknames.parse(convention, nickname).values == expected


@pytest.mark.parametrize("nickname", ["张三", "小张", "销售部-", "-张三"])
def test_parse_rejects_nicknames_that_break_the_convention(nickname):
    assert nicknames.parse("{department}-{name}", nickname) is None


def test_render():
    assert (
        nicknames.render(
            "{company}{department}{title}{name}", company="示例", department="销售部", title="经理", name="张三"
        )
        == "示例销售部经理张三"
    )


def test_validate_convention():
    nicknames.validate_convention("{department}-{name}")
    with pytest.raises(ValidationError):
        nicknames.validate_convention("{dept}-{name}")
    with pytest.raises(ValidationError):
        nicknames.validate_convention("{department}")


def test_normalize_strips_surrounding_whitespace():
    assert nicknames.normalize("  销售部-张三 \t") == "销售部-张三"
    assert nicknames.parse("{department}-{name}", " 销售部-张三 ").values == {"department": "销售部", "name": "张三"}


def test_normalize_turns_a_full_width_space_into_a_plain_one():
    assert nicknames.normalize("销售部\u3000张三") == "销售部 张三"
    assert nicknames.parse("{department} {name}", "销售部\u3000张三").values == {"department": "销售部", "name": "张三"}


@pytest.mark.parametrize("nickname", ["张三 经理", "张三-经理", "张三(外包)", "张三（外包）", "张三/李四", "张三_1"])
def test_name_never_contains_a_separator(nickname):
    assert nicknames.parse("{name}", nickname) is None


def test_other_parts_may_contain_separators():
    parts = nicknames.parse("{department}-{name}", "销售(华东)部-张三")
    assert parts.values == {"department": "销售(华东)部", "name": "张三"}


def test_literal_text_before_the_first_placeholder_is_required():
    parts = nicknames.parse("[{department}]{name}", "[销售部]张三")
    assert parts.get("department") == "销售部" and parts.get("name") == "张三"
    assert nicknames.parse("[{department}]{name}", "销售部]张三") is None


def test_parts_get_returns_the_named_part_or_none():
    parts = nicknames.parse("{department}-{name}", "销售部-张三")
    assert parts.get("department") == "销售部"
    assert parts.get("name") == "张三"
    assert parts.get("title") is None


def test_render_leaves_missing_or_empty_values_out():
    assert nicknames.render("{department}-{title}{name}", department="销售部", name="张三") == "销售部-张三"
    assert nicknames.render("{department}-{name}", department="", name="张三") == "-张三"
