#!/usr/bin/env python3
"""Mutation testing of the core logic: one small change at a time, does a test notice it?

    .venv/bin/python scripts/mutation.py                  # every module below
    .venv/bin/python scripts/mutation.py nicknames        # one (or a few) of them
    .venv/bin/python scripts/mutation.py --list reconcile # the mutants only, without running tests

Not part of the test suite (too slow for it: all six modules took about 45 minutes on the shared
two-core build machine at a load average of 7; reconcile and deductions are most of it).
It runs on SQLite (DATABASE_URL and REDIS_URL are ignored) and needs
nothing beyond requirements-dev.txt (the standard library, pytest and pytest-django).
``--rerun OUTPUT`` runs only the mutants an earlier run reported SURVIVED (after adding tests).

How: the script parses each module with ``ast`` and makes one mutant per site and operator, inside
function bodies only (docstrings, logging calls and error messages are left alone):

- comparison swaps (``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``in``/``not in``, ``is``/``is not``),
- arithmetic swaps (``+``/``-``, ``*``/``//``), ``and``/``or``, ``not x`` → ``x``,
- integer constants + 1, ``True``/``False`` swapped,
- conditions negated (``if``, ``while``, conditional expressions, comprehension filters),
- string clean-ups removed (``.strip()``, ``.replace(…)``, …) and ``d.get(…)`` replaced by ``None``,
- queryset narrowing dropped: ``.active()``, ``.open()``, ``.live()``, ``.counting()``, ``.closed()``,
  one keyword of a ``.filter(…)``/``.exclude(…)`` with several, one operand of a longer ``and``/``or``,
- ``order_by("-f")`` ↔ ``order_by("f")``, and neighbouring elements of a ``key=lambda …: (…)`` swapped,
- ``param.a`` replaced by another attribute ``param.b`` read in the same function (settings mix-ups).

How it runs: one pytest session per module, over that module's own tests (``MODULES`` below). An
unmutated run first records which test executes which line (``sys.settrace``) and how long each
takes; it must pass. Then each mutant runs in a forked child of the session, which swaps the
mutated function's code object in place (so every ``from … import f`` sees the mutant), takes a
fresh copy of a migrated SQLite database and runs only the tests that execute the mutated line,
quickest first, stopping at the first failure. A mutant is *killed* when a test fails, *timeout*
when the child takes more than three times the unmutated run, and *survived* otherwise (also when
no test executes the line). Survivors are printed as ``file:line [operator] line``; the ones that
cannot change behaviour are listed in ``EQUIVALENT`` with the reason and are left out of the score.
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import importlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

DEDUCTIONS_TESTS = [
    "violations/tests/test_deductions_rules.py",
    "violations/tests/test_deductions.py",
    "violations/tests/test_deductions_close.py",
    "violations/tests/test_deductions_lock.py",
    "violations/tests/test_deductions_jobs.py",
    "violations/tests/test_api_deductions.py",
]

# module → the test files that cover it (only these run for its mutants)
MODULES: dict[str, tuple[str, list[str]]] = {
    "escalation": (
        "violations.escalation",
        [
            "violations/tests/test_escalation_rules.py",
            "violations/tests/test_escalation_load.py",
            "violations/tests/test_ladder.py",
        ],
    ),
    "workdays": (
        "violations.workdays",
        ["violations/tests/test_workdays.py", "violations/tests/test_appeals.py"],
    ),
    "nicknames": (
        "groups.nicknames",
        ["groups/tests/test_nicknames.py", "groups/tests/test_reconcile.py"],
    ),
    "reconcile": (
        "groups.reconcile",
        [
            "groups/tests/test_reconcile_successors.py",
            "groups/tests/test_reconcile_nickname_parts.py",
            "groups/tests/test_reconcile_removal.py",
            "groups/tests/test_reconcile.py",
            "groups/tests/test_reconcile_actions.py",
            "groups/tests/test_reconcile_jobs.py",
        ],
    ),
    "findings": (
        "groups.findings",
        [
            "groups/tests/test_findings_queries.py",
            "groups/tests/test_reconcile.py",
            "groups/tests/test_reconcile_actions.py",
            "groups/tests/test_api_findings.py",
            "groups/tests/test_reconcile_successors.py",
        ],
    ),
    "deductions.compute": (
        "violations.deductions.compute",
        DEDUCTIONS_TESTS,
    ),
    "deductions.rows": (
        "violations.deductions.rows",
        DEDUCTIONS_TESTS,
    ),
    "deductions.upsert": (
        "violations.deductions.upsert",
        DEDUCTIONS_TESTS,
    ),
    "deductions.adjustments": (
        "violations.deductions.adjustments",
        DEDUCTIONS_TESTS,
    ),
    "tree": (
        "groups.tree",
        [
            "groups/tests/test_reconcile_successors.py",
            "groups/tests/test_reconcile_nickname_parts.py",
            "groups/tests/test_reconcile.py",
        ],
    ),
    "months": (
        "portal.months",
        [
            "portal/tests/test_months.py",
            "violations/tests/test_deductions_rules.py",
            "violations/tests/test_escalation_rules.py",
            "violations/tests/test_ladder.py",
            "portal/tests/test_dashboard.py",
        ],
    ),
}

# Survivors that cannot change behaviour: (module, line, operator) → why. Reviewed by hand.
EQUIVALENT: dict[tuple[str, int, str], str] = {
    # Moved with the re-homing of issue #12 (same code, new file and line):
    ("tree", 48, "Gt → GtE"): "depth 1: ancestor_name(path, 0) looks up the empty path, no department: '' too",
    ("tree", 59, "drop operand 1 of and"): "every prefix of a department's path is a department: never None",
    ("tree", 59, "drop operand 2 of and"): "no head → head__status is NULL → head_active is False already",
    ("tree", 59, "drop operand 4 of and"): "the only caller excludes the departed owner, never an active head",
    (
        "deductions.compute",
        77,
        "drop .replace()",
    ): "month is a 1st: month > today exactly when month > this month's 1st",
    ("deductions.compute", 77, "1 → 2"): "month is a 1st: later than the 2nd of this month iff later than the 1st",
    (
        "deductions.compute",
        86,
        "order_by 'month' → '-month'",
    ): "lock order: matters between concurrent transactions only",
    ("deductions.rows", 45, "order_by 'employee_id' → '-employee_id'"): "rows are grouped per employee into a dict; "
    "only the order within an employee is read",
    ("deductions.rows", 49, "5000 → 5001"): "chunk size of the server-side cursor",
    ("workdays", 66, "LtE → Lt"): "end == start: the loop below counts nothing either way",
    ("reconcile", 122, "Gt → GtE"): "depth 1: ancestor_name(path, 0) looks up the empty path, no department: '' too",
    ("reconcile", 133, "drop operand 1 of and"): "every prefix of a department's path is a department: never None",
    ("reconcile", 133, "drop operand 2 of and"): "no head → head__status is NULL → head_active is False already",
    ("reconcile", 133, "drop operand 4 of and"): "the only caller excludes the departed owner, never an active head",
    ("reconcile", 215, "300 → 301"): "a membership's nickname column holds at most 200 characters",
    ("reconcile", 227, "drop filter(chatgroup__status=…)"): "the map is read only for the active groups found above",
    ("reconcile", 227, "drop filter(chatgroup__owner__status=…)"): "read only for groups whose owner departed",
    ("reconcile", 306, "False → True"): "json_extract decodes \\u escapes: the same text is stored",
    ("reconcile", 332, "drop filter(status=…)"): "the ids are open findings read in this same transaction",
    ("reconcile", 345, "1000 → 1001"): "batch size of bulk_update",
    ("reconcile", 437, "order_by 'pk' → '-pk'"): "lock order: matters between concurrent transactions only",
    (
        "reconcile",
        420,
        "drop filter(kind=…)",
    ): "only departed-member findings are ever stamped (the claim filters kind)",
    ("findings", 43, "1 → 2"): "SQLite takes a scalar subquery's first row (PostgreSQL would refuse two): "
    "equivalent on SQLite only",
    ("deductions", 111, "1 → 2"): "days=2 before the 1st is in the previous month too (the other 1 → 2 is killed)",
    ("deductions", 154, "drop .replace()"): "month is a 1st: month > today exactly when month > this month's 1st",
    ("deductions", 273, "negate conditional"): "SQLite (3.39+) knows IS DISTINCT FROM too: equivalent on SQLite only",
    ("deductions", 273, "Eq → NotEq"): "the same, the other way round",
    ("deductions", 285, "drop .removesuffix()"): "_meta.get_field() finds a foreign key by its attname too",
    ("deductions", 307, "drop .removesuffix()"): "the same",
    ("deductions", 315, "True → False"): "zip(strict=) only checks lengths, which are equal by construction",
    ("deductions", 154, "1 → 2"): "month is a 1st: any day of this month gives the same comparison",
    ("deductions", 355, "Eq → NotEq"): "f.name != 'breakdown': and-ed with vendor == postgresql, '%s' on SQLite; "
    "equivalent on SQLite only",
    ("deductions", 359, "True → False"): "zip(strict=) only checks lengths, which are equal by construction",
    ("deductions", 486, "drop filter(kind=…)"): "regular rows have no adjusts_month: only adjustments match",
    ("deductions", 503, "drop filter(violation__occurred_at__gte=…)"): "used only intersected with the month's booked "
    "sanctions",
    ("deductions", 503, "drop filter(violation__occurred_at__lt=…)"): "the same",
    ("deductions", 521, "True → False"): "changes are never empty here: auditlog writes the entry either way",
    ("deductions", 163, "order_by 'month' → '-month'"): "lock order: matters between concurrent transactions only",
    ("deductions", 226, "order_by 'employee_id' → '-employee_id'"): "entries are grouped per employee, then sorted",
    ("deductions", 230, "5000 → 5001"): "iterator chunk size",
    ("deductions", 393, "order_by 'month' → '-month'"): "each closed month's rows are independent (own adjusts_month)",
    ("deductions", 432, "10000 → 10001"): "iterator chunk size",
}

COMPARE_SWAP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult}
NARROWING_METHODS = {"active", "open", "live", "counting", "closed"}  # querysets: drop the filter
CLEANUP_METHODS = {"strip", "lstrip", "rstrip", "replace", "lower", "upper", "removesuffix", "removeprefix"}
# calls whose arguments are messages or plumbing, not logic
SKIP_CALLS = {"_", "gettext", "ValidationError", "ValueError", "PermissionDenied", "warning", "info", "debug"}


@dataclasses.dataclass
class Mutant:
    module: str
    func: str  # qualified name of the function whose code is swapped
    line: int
    op: str
    source: str  # the mutated line(s), for the report
    tree: ast.Module = dataclasses.field(repr=False)
    span: tuple[int, int] = (0, 0)  # the lines whose execution reaches the mutated code

    @property
    def ident(self) -> tuple[str, int, str]:
        return (self.module, self.line, self.op)


def _is_docstring(node: ast.AST, parent: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and bool(body)
        and body[0] is node
    )


class Sites(ast.NodeVisitor):
    """Collect (path-to-node, operator, replacement factory) in function bodies."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.sites: list[tuple[str, ast.AST, str, object]] = []
        self.func_attrs: list[dict[str, set[str]]] = []
        self.func_params: list[set[str]] = []
        self.callees: set[int] = set()

    # --- scope --------------------------------------------------------------------------------
    def visit_ClassDef(self, node):
        self.stack.append(node.name)
        for child in node.body:
            self.visit(child)
        self.stack.pop()

    def visit_FunctionDef(self, node):
        if self.stack and self.stack[-1] == "<func>":
            self.generic_visit(node)  # nested function: part of the enclosing code object
            return
        self.stack.append(node.name)
        qual = ".".join(self.stack)
        attrs: dict[str, set[str]] = {}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and isinstance(sub.ctx, ast.Load):
                attrs.setdefault(sub.value.id, set()).add(sub.attr)
        params = {a.arg for a in node.args.args + node.args.kwonlyargs} - {"self", "cls"}
        self.func_attrs.append(attrs)
        self.func_params.append(params)
        self.current = qual
        self.stack.append("<func>")
        for child in node.body:
            if _is_docstring(child, node):
                continue
            self.visit(child)
        self.stack.pop()
        self.stack.pop()
        self.func_attrs.pop()
        self.func_params.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def inside(self) -> bool:
        return bool(self.stack) and self.stack[-1] == "<func>"

    def add(self, node, op, make):
        if self.inside():
            self.sites.append((self.current, node, op, make))

    # --- operators ------------------------------------------------------------------------------
    def visit_Call(self, node):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in SKIP_CALLS:
            return
        self.callees.add(id(node.func))
        if name in ("filter", "exclude") and node.keywords:
            for i, kw in enumerate(node.keywords):
                if len(node.keywords) > 1 or node.args:
                    self.add(node, f"drop {name}({kw.arg}=…)", _drop_keyword(i))
        if isinstance(node.func, ast.Attribute) and name in CLEANUP_METHODS:
            self.add(node, f"drop .{name}()", lambda n: n.func.value)
        if isinstance(node.func, ast.Attribute) and name in NARROWING_METHODS and not node.args:
            self.add(node, f"drop .{name}()", lambda n: n.func.value)
        if isinstance(node.func, ast.Attribute) and name == "get" and node.args:
            self.add(node, "d.get() → None", lambda n: ast.Constant(None))
        if name == "order_by":
            for i, arg in enumerate(node.args):
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
                    flipped = arg.value[1:] if arg.value.startswith("-") else "-" + arg.value
                    self.add(node, f"order_by {arg.value!r} → {flipped!r}", _replace_arg(i, flipped))
        for i, kw in enumerate(node.keywords):
            if kw.arg == "key" and isinstance(kw.value, ast.Lambda) and isinstance(kw.value.body, ast.Tuple):
                for j in range(len(kw.value.body.elts) - 1):
                    self.add(node, f"sort key: swap elements {j},{j + 1}", _swap_key(i, j))
        self.generic_visit(node)

    def visit_Compare(self, node):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE_SWAP:
                new = COMPARE_SWAP[type(op)]
                self.add(node, f"{type(op).__name__} → {new.__name__}", _swap_cmp(i, new))
        self.generic_visit(node)

    def visit_BinOp(self, node):
        if type(node.op) in BINOP_SWAP and not _stringy(node):
            new = BINOP_SWAP[type(node.op)]
            self.add(node, f"{type(node.op).__name__} → {new.__name__}", lambda n, new=new: _with(n, op=new()))
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        self.add(node, f"{type(node.op).__name__} → {new.__name__}", lambda n, new=new: _with(n, op=new()))
        if len(node.values) > 2:
            for i in range(len(node.values)):
                self.add(node, f"drop operand {i + 1} of {type(node.op).__name__.lower()}", _drop_operand(i))
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            self.add(node, "not x → x", lambda n: n.operand)
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, bool):
            self.add(node, f"{node.value} → {not node.value}", lambda n: ast.Constant(not n.value))
        elif isinstance(node.value, int):
            self.add(node, f"{node.value} → {node.value + 1}", lambda n: ast.Constant(n.value + 1))

    def visit_JoinedStr(self, node):
        return  # f-strings: messages and SQL text

    def visit_If(self, node):
        self.add(node, "negate if", lambda n: _with(n, test=_negate(n.test)))
        self.generic_visit(node)

    def visit_While(self, node):
        self.add(node, "negate while", lambda n: _with(n, test=_negate(n.test)))
        self.generic_visit(node)

    def visit_IfExp(self, node):
        self.add(node, "negate conditional", lambda n: _with(n, test=_negate(n.test)))
        self.generic_visit(node)

    def visit_comprehension(self, node):
        for i, _cond in enumerate(node.ifs):
            self.add(node, "negate comprehension filter", _negate_if(i))
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if (
            self.inside()
            and isinstance(node.value, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.value.id in self.func_params[-1]
            and id(node) not in self.callees
        ):
            others = sorted(self.func_attrs[-1].get(node.value.id, set()) - {node.attr})
            if others:
                self.add(node, f".{node.attr} → .{others[0]}", lambda n, o=others[0]: _with(n, attr=o))
        self.generic_visit(node)

    def visit_Expr(self, node):
        # bare calls to the logger are not logic
        call = node.value
        func = call.func if isinstance(call, ast.Call) else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "logger":
            return
        self.generic_visit(node)

    def visit_Raise(self, node):
        return  # the message of an error is not logic


def _stringy(node: ast.BinOp) -> bool:
    """``"a" + b`` or ``[x] * n``: string/list building, where a swap only raises a TypeError."""
    for side in (node.left, node.right):
        if isinstance(side, ast.Constant) and isinstance(side.value, str):
            return True
        if isinstance(side, (ast.List, ast.JoinedStr)):
            return True
    return False


def _with(node, **changes):
    new = copy.copy(node)
    for key, value in changes.items():
        setattr(new, key, value)
    return new


def _negate(test):
    return ast.UnaryOp(op=ast.Not(), operand=test)


def _swap_cmp(i, new):
    def make(n):
        ops = list(n.ops)
        ops[i] = new()
        return _with(n, ops=ops)

    return make


def _replace_arg(i, value):
    def make(n):
        args = list(n.args)
        args[i] = ast.Constant(value)
        return _with(n, args=args)

    return make


def _swap_key(i, j):
    def make(n):
        keywords = list(n.keywords)
        lam = copy.deepcopy(keywords[i].value)
        elts = lam.body.elts
        elts[j], elts[j + 1] = elts[j + 1], elts[j]
        keywords[i] = ast.keyword(arg="key", value=lam)
        return _with(n, keywords=keywords)

    return make


def _drop_keyword(i):
    def make(n):
        return _with(n, keywords=[kw for j, kw in enumerate(n.keywords) if j != i])

    return make


def _drop_operand(i):
    def make(n):
        return _with(n, values=[v for j, v in enumerate(n.values) if j != i])

    return make


def _negate_if(i):
    def make(n):
        ifs = list(n.ifs)
        ifs[i] = _negate(ifs[i])
        return _with(n, ifs=ifs)

    return make


class Replace(ast.NodeTransformer):
    def __init__(self, target, make):
        self.target, self.make = target, make

    def visit(self, node):
        if node is self.target:
            return self.make(node)
        return super().visit(node)


def mutants_of(name: str) -> list[Mutant]:
    dotted = MODULES[name][0]
    path = ROOT / (dotted.replace(".", "/") + ".py")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    order = {id(node): i for i, node in enumerate(ast.walk(tree))}
    sites = Sites()
    sites.visit(tree)
    result = []
    for func, node, op, make in sites.sites:
        # rebuild from a fresh parse (same walk order): each mutant is applied to an intact tree
        fresh = ast.parse(text)
        target = next(n for i, n in enumerate(ast.walk(fresh)) if i == order[id(node)])
        mutated = ast.fix_missing_locations(Replace(target, make).visit(fresh))
        line = getattr(node, "lineno", None) or node.target.lineno  # a comprehension: its target's line
        where = getattr(node, "test", None) if isinstance(node, (ast.If, ast.While)) else node
        span = (line, getattr(where, "end_lineno", None) or line) if where is not None else (line, line)
        if isinstance(node, ast.comprehension):
            span = (node.target.lineno, max(getattr(c, "end_lineno", 0) or 0 for c in [node.iter, *node.ifs]))
        result.append(Mutant(name, func, line, op, lines[line - 1].strip(), mutated, span))
    return result


# --- running ------------------------------------------------------------------------------------


def _function(module, qualname: str):
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, property):
        obj = obj.fget
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    obj = getattr(obj, "__func__", obj)
    while hasattr(obj, "__wrapped__"):
        obj = obj.__wrapped__
    return obj


def _code_for(code: types.CodeType, qualname: str) -> types.CodeType:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_qualname == qualname:
                return const
            found = _code_for_or_none(const, qualname)
            if found:
                return found
    raise LookupError(qualname)


def _code_for_or_none(code, qualname):
    try:
        return _code_for(code, qualname)
    except LookupError:
        return None


def _clear_caches(module) -> None:
    for value in vars(module).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()


WORK = Path(tempfile.gettempdir())  # replaced by a fresh folder in main()
TEMPLATE = WORK / "template.sqlite3"


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _use_test_db(path: Path) -> None:
    from django.db import connections

    connections.settings["default"]["TEST"]["NAME"] = str(path)


def _use_copy(database: Path) -> None:
    """pytest-django's database set-up (migrations) is replaced by pointing at a migrated copy."""
    import django.test.utils
    from django.db import connections

    def setup_databases(*args, **kwargs):
        for alias in connections:
            connections[alias].close()
            connections[alias].settings_dict["NAME"] = str(database)
        return []

    django.test.utils.setup_databases = setup_databases
    django.test.utils.teardown_databases = lambda *args, **kwargs: None


def _preload_pytest_plugins() -> None:
    """Import pytest's plugins once in the parent (hypothesis, schemathesis …): children start warm."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="pytest11"):
        try:
            entry.load()
        except Exception as exc:  # a broken plugin fails the same way in the children, visibly
            print(f"plugin {entry.name}: {exc!r}", file=sys.stderr)
    importlib.import_module("conftest")


def make_template() -> None:
    """Migrate one SQLite test database; every run starts from a copy of it (no migrations per mutant)."""
    pid = os.fork()
    if pid == 0:
        try:
            from django.db import connections

            _use_test_db(TEMPLATE)
            connections["default"].creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
            connections.close_all()
            code = 0
        except BaseException as exc:
            print(f"cannot create the test database: {exc!r}", file=sys.stderr)
            code = 1
        os._exit(code)
    _done, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(2)


class LineTracer:
    """For the unmutated run: which test (its set-up included) executes which line of ``filename``."""

    def __init__(self, module) -> None:
        self.module, self.filename, self.current = module, module.__file__, None
        self.lines: dict[int, set[str]] = {}

    def _local(self, frame, event, arg):
        if event == "line" and self.current:
            self.lines.setdefault(frame.f_lineno, set()).add(self.current)
        return self._local

    def _global(self, frame, event, arg):
        if frame.f_code.co_filename == self.filename:
            if self.current:  # the call line itself: a function whose body is one expression
                self.lines.setdefault(frame.f_lineno, set()).add(self.current)
            return self._local
        return None

    def start(self, nodeid: str) -> None:
        _clear_caches(self.module)  # a cached result would hide the lines behind it
        self.current = nodeid
        sys.settrace(self._global)
        threading.settrace(self._global)

    def stop(self) -> None:
        sys.settrace(None)
        threading.settrace(None)
        self.current = None


def _fork(work, timeout: float) -> str:
    """Run ``work()`` (returns an exit code) in a forked child: "survived" (0), "killed" or "timeout"."""
    pid = os.fork()
    if pid == 0:
        try:
            code = work()
        except BaseException:  # a mutant that breaks the swap or the run is killed
            code = 99
        os._exit(int(code))
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            _remove_db(WORK / f"run-{pid}.sqlite3")
            return "timeout"
        time.sleep(0.02)
    return "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"


class MutationSession:
    """pytest plugin: after collection, fork once per mutant and run only the tests covering it.

    The session (plugins, conftests, test modules) is set up once; each child swaps the mutated
    function's code, gets its own copy of the migrated database and runs its items with ``-x``.
    """

    def __init__(self, name: str, dotted: str, mutants: list[Mutant], out) -> None:
        self.name, self.dotted, self.mutants, self.out = name, dotted, mutants, out
        self.results: list[tuple[Mutant, str, bool]] = []
        self.baseline: str = ""

    def _run_items(self, items, tracer: LineTracer | None = None, durations: dict | None = None) -> int:
        from _pytest.runner import runtestprotocol

        database = WORK / f"run-{os.getpid()}.sqlite3"
        shutil.copyfile(TEMPLATE, database)
        _use_copy(database)
        failed = 0
        try:
            for index, item in enumerate(items):
                nextitem = items[index + 1] if index + 1 < len(items) else None
                if tracer:
                    tracer.start(item.nodeid)
                started = time.monotonic()
                reports = runtestprotocol(item, nextitem=nextitem, log=False)
                if tracer:
                    tracer.stop()
                if durations is not None:
                    durations[item.nodeid] = time.monotonic() - started
                if any(report.failed for report in reports):
                    failed += 1
                    if tracer is None:
                        return 1  # -x
                    self.out.write(f"   unmutated test fails: {item.nodeid}\n")
            return 1 if failed else 0
        finally:
            _remove_db(database)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        items = list(session.items)
        module = importlib.import_module(self.dotted)
        trace = WORK / f"lines-{self.name}.json"

        def baseline():
            tracer, durations = LineTracer(module), {}
            code = self._run_items(items, tracer, durations)
            lines = {line: sorted(ids) for line, ids in tracer.lines.items()}
            trace.write_text(json.dumps({"lines": lines, "durations": durations}))
            return code

        started = time.monotonic()
        if _fork(baseline, timeout=3600) != "survived":
            self.baseline = "the unmutated tests fail"
            return True
        took = time.monotonic() - started
        traced = json.loads(trace.read_text())
        covering = {int(line): ids for line, ids in traced["lines"].items()}
        durations = traced["durations"]
        by_id = {item.nodeid: item for item in items}
        timeout = 3 * took + 10
        self.out.write(f"== {self.name} ({self.dotted}): {len(self.mutants)} mutants, {len(items)} tests, ")
        self.out.write(f"{took:.1f} s unmutated (traced)\n")
        for number, mutant in enumerate(self.mutants, 1):
            ids = set()
            for line in range(mutant.span[0], mutant.span[1] + 1):
                ids.update(covering.get(line, ()))
            # -x: the quickest kill first
            selected = [by_id[i] for i in sorted(ids, key=lambda i: (durations.get(i, 0.0), i)) if i in by_id]

            def work(mutant=mutant, selected=selected):
                code = compile(mutant.tree, module.__file__, "exec")
                _function(module, mutant.func).__code__ = _code_for(code, mutant.func)
                _clear_caches(module)
                return self._run_items(selected)

            outcome = _fork(work, timeout) if selected else "survived"
            self.results.append((mutant, outcome, bool(selected)))
            if outcome == "survived" and mutant.ident not in EQUIVALENT:
                note = "" if selected else " (no test executes it)"
                where = f"{self.dotted.replace('.', '/')}.py:{mutant.line}"
                self.out.write(f"  SURVIVED {where} [{mutant.op}] {mutant.source}{note}\n")
            if number % 25 == 0:
                self.out.write(f"   … {number}/{len(self.mutants)}\n")
        return True


def run_module(name: str, dotted: str, tests: list[str], mutants: list[Mutant]) -> list[tuple[str, bool]] | None:
    """One pytest session (in a child, so every module starts from the same clean parent)."""
    result_file = WORK / f"results-{name}.json"
    sys.stdout.flush()

    def session():
        out = os.fdopen(os.dup(1), "w", buffering=1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        plugin = MutationSession(name, dotted, mutants, out)
        args = ["-q", "-p", "no:xdist", "-p", "no:cacheprovider", "-o", "addopts=", *tests]
        pytest.main(args, plugins=[plugin])
        if plugin.baseline:
            out.write(f"{name}: {plugin.baseline}; fix them first\n")
            return 2
        result_file.write_text(json.dumps([(outcome, ran) for _m, outcome, ran in plugin.results]))
        return 0

    if _fork(session, timeout=6 * 3600) != "survived":
        return None
    return [tuple(r) for r in json.loads(result_file.read_text())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: all of {', '.join(MODULES)}")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument(
        "--rerun",
        metavar="OUTPUT",
        type=Path,
        help="run only the mutants reported SURVIVED in OUTPUT (an earlier run's output), e.g. after adding tests",
    )
    args = parser.parse_args()
    names = args.modules or list(MODULES)
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {list(MODULES)}")

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    for var in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(var, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

    all_mutants = {name: mutants_of(name) for name in names}
    if args.rerun:
        wanted = set()
        for line in args.rerun.read_text(encoding="utf-8").splitlines():
            match = re.match(r"\s*SURVIVED (\S+)\.py:(\d+) \[(.+?)\] ", line)
            if match:
                wanted.add((match.group(1).replace("/", "."), int(match.group(2)), match.group(3)))
        for name in names:
            dotted = MODULES[name][0]
            all_mutants[name] = [m for m in all_mutants[name] if (dotted, m.line, m.op) in wanted]
    if args.list:
        for name, mutants in all_mutants.items():
            for m in mutants:
                print(f"{name}:{m.line} [{m.op}] {m.source}")
            print(f"{name}: {len(mutants)} mutants")
        return 0

    import django

    global WORK, TEMPLATE
    WORK = Path(tempfile.mkdtemp(prefix="qungui-mutation-"))
    TEMPLATE = WORK / "template.sqlite3"
    django.setup()
    _preload_pytest_plugins()
    make_template()
    totals = {}
    for name in names:
        dotted, tests = MODULES[name]
        importlib.import_module(dotted)
        missing = [t for t in tests if not (ROOT / t).exists()]
        if missing:
            print(f"{name}: not there (skipped): {missing}", file=sys.stderr)
            tests = [t for t in tests if t not in missing]
        mutants = all_mutants[name]
        if not mutants:
            print(f"== {name}: no mutants to run", flush=True)
            continue
        results = run_module(name, dotted, tests, mutants)
        if results is None:
            return 2
        counts = {"killed": 0, "timeout": 0, "survived": 0, "equivalent": 0}
        for mutant, (outcome, _ran) in zip(mutants, results, strict=True):
            if outcome == "survived" and mutant.ident in EQUIVALENT:
                outcome = "equivalent"
            counts[outcome] += 1
        for ident, reason in EQUIVALENT.items():
            if not args.rerun and ident[0] == name and not any(m.ident == ident for m in mutants):
                print(f"  (stale EQUIVALENT entry {ident}: {reason})")
        relevant = counts["killed"] + counts["timeout"] + counts["survived"]
        score = 100.0 * (counts["killed"] + counts["timeout"]) / relevant if relevant else 100.0
        totals[name] = (counts, score)
        print(f"   {name}: {counts} → score {score:.1f} % of non-equivalent mutants", flush=True)
    print("\nmodule       killed timeout survived equivalent  score")
    k = t = s = 0
    for name, (counts, score) in totals.items():
        print(
            f"{name:12} {counts['killed']:6} {counts['timeout']:7} {counts['survived']:8}"
            f" {counts['equivalent']:10}  {score:5.1f} %"
        )
        k, t, s = k + counts["killed"], t + counts["timeout"], s + counts["survived"]
    if k + t + s:
        print(f"{'total':12} {k:6} {t:7} {s:8} {'':10}  {100.0 * (k + t) / (k + t + s):5.1f} %")
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
