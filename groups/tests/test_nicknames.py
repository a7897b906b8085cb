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
