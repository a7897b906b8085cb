"""The layers of docs/architecture.md, checked on every import statement (function-level ones too).

core (portal/, less the top floor) → imports no domain app; groups → not violations; violations and
groups → not the top floor; the top floor (portal/dashboard/, the URL confs) may import everything.
A new import that runs back up a floor fails here, naming the file, the line and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOP_FLOOR = ("portal.dashboard", "portal.urls", "portal.api.urls")
DOMAIN = ("groups", "violations")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def within(name: str, packages) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def source_files(package: str, root: Path = ROOT):
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root).parts
        if "tests" in relative or "migrations" in relative:
            continue
        yield path


def forbidden(package: str, may_not: tuple[str, ...], exempt: tuple[str, ...] = (), root: Path = ROOT) -> list[str]:
    problems = []
    for path in source_files(package, root):
        name = module_name(path, root)
        if within(name, exempt):
            continue
        for line, target in imports_of(path, root):
            if within(target, may_not):
                problems.append(f"{path.relative_to(root)}:{line} imports {target}")
    return sorted(set(problems))


@pytest.mark.parametrize(
    ("package", "may_not", "exempt"),
    [
        ("portal", (*DOMAIN, "portal.dashboard"), TOP_FLOOR),
        ("groups", ("violations", "portal.dashboard"), ()),
        ("violations", ("portal.dashboard",), ()),
    ],
    ids=["core imports no domain app", "groups imports no violations", "apps import no top floor"],
)
def test_imports_run_down_the_layers(package, may_not, exempt):
    assert forbidden(package, may_not, exempt) == []


def test_the_check_sees_a_violation(tmp_path):
    """The walker resolves relative and function-level imports (else the test above proves nothing)."""
    (tmp_path / "portal" / "dashboard").mkdir(parents=True)
    (tmp_path / "portal" / "__init__.py").write_text("")
    (tmp_path / "portal" / "dashboard" / "views.py").write_text("from groups.models import Employee\n")
    probe = tmp_path / "portal" / "probe.py"
    probe.write_text("def f():\n    from groups.models import Employee\n\nfrom .dashboard import sections\n")
    assert forbidden("portal", (*DOMAIN, "portal.dashboard"), TOP_FLOOR, root=tmp_path) == [
        "portal/probe.py:2 imports groups.models",
        "portal/probe.py:2 imports groups.models.Employee",
        "portal/probe.py:4 imports portal.dashboard",
        "portal/probe.py:4 imports portal.dashboard.sections",
    ]
