"""Formula neutralisation (portal.exports.neutralize): what is closed, and what is left alone.

The PostgreSQL CSV export does the same in SQL; violations/tests/test_report_content.py checks
both against every injection of report_data.INJECTIONS on both databases.
"""

import pytest

from portal.exports import neutralize


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        " =1+1",
        "\u3000=1+1",
        "\u3000\u3000+1",
        "\u200b=HYPERLINK()",
        "\ufeff@SUM(A1)",
        "|calc",
        " |calc",
        "｜calc",
        "\t\t-1",
        "\u00a0-2",
        "\rCR",
    ],
)
def test_formula_like_cells_are_prefixed(value):
    assert neutralize(value) == "'" + value


@pytest.mark.parametrize("value", ["张三", "a=b", " 张三", "\u3000华东区", "1+1", "E0001", ""])
def test_plain_cells_pass_through(value):
    assert neutralize(value) == value


def test_non_strings_pass_through():
    assert neutralize(12) == 12 and neutralize(None) is None
