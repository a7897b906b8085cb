"""Creating an import's new departments in bulk, keeping django-treebeard's materialised path right.

``Department`` is an ``MP_Node`` with ``node_order_by = ["name"]``: siblings' paths run in name order
(treebeard's ``add_child`` inserts a node at its sorted place and shifts the later siblings' subtrees).
Creating 209 departments one by one costs thousands of queries; here the whole tree is loaded once,
every sibling set that gains a child is renumbered in Python (existing siblings and their subtrees
move along when a new name sorts before theirs, as ``add_child`` would move them) and the result is
written with a fixed number of statements:

1. existing nodes whose path changes: to a temporary path, then to the new one (the path is unique);
2. parents' ``numchild``;
3. the new departments in one multi-row insert (``executemany``).

The database's collation is C on PostgreSQL (and SQLite compares code points), so Python's string
order is the order treebeard's ``name__gt`` lookups see. Callers hold the import's transaction and
write its one audit summary (``portal.audit.log_summary``); no per-row signals are sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from groups.models import PATH_SEPARATOR, Department


@dataclass
class _Node:
    name: str
    name_path: str
    path: str = ""
    depth: int = 0
    pk: int | None = None  # None: a new department
    old_path: str = ""
    children: list[_Node] = field(default_factory=list)


def _sort_key(node: _Node) -> tuple[str, int, str]:
    # Name order (node_order_by); equal names keep their current order, new ones after existing.
    return (node.name, 0 if node.pk is not None else 1, node.old_path)


def _renumber(siblings: list[_Node], parent_path: str, depth: int) -> None:
    siblings.sort(key=_sort_key)
    for position, node in enumerate(siblings, start=1):
        node.path = Department._get_path(parent_path, depth, position)
        node.depth = depth
        _renumber(node.children, node.path, depth + 1)


def _affected_sets(roots: list[_Node], new_parents: set[int | None]) -> None:
    """Renumber only the sibling sets that gain a child (and so the subtrees below them)."""

    def walk(siblings: list[_Node], parent_path: str, depth: int, parent_key: int | None) -> None:
        if parent_key in new_parents:
            _renumber(siblings, parent_path, depth)
            return
        for node in siblings:
            node.path, node.depth = node.old_path, depth
            walk(node.children, node.path, depth + 1, id(node))

    walk(roots, "", 1, None)


def create_departments_bulk(paths: list[str]) -> list[str]:
    """Create the departments at ``paths`` (full name paths; a new one's parent exists or is listed).

    Returns the name paths created. A fixed number of queries, whatever their number.
    """
    if not paths:
        return []
    by_path: dict[str, _Node] = {}
    roots: list[_Node] = []
    # Tree order: a parent comes before its children. On PostgreSQL the rows stay locked until the
    # import commits: a department added meanwhile (treebeard locks nothing) waits, not collides.
    tree = Department.objects.order_by("path")
    if connection.vendor == "postgresql":
        tree = tree.select_for_update()
    for pk, name, name_path, path, depth in tree.values_list("pk", "name", "name_path", "path", "depth"):
        node = _Node(name=name, name_path=name_path, pk=pk, old_path=path, depth=depth)
        parent = by_path.get(name_path.rsplit(PATH_SEPARATOR, 1)[0]) if depth > 1 else None
        (parent.children if parent else roots).append(node)
        by_path[name_path] = node
    created: list[_Node] = []
    new_parents: set[int | None] = set()
    for name_path in sorted(set(paths), key=lambda p: (p.count(PATH_SEPARATOR), p)):
        if name_path in by_path:
            continue
        parent_path, _, name = name_path.rpartition(PATH_SEPARATOR)
        parent = by_path.get(parent_path) if parent_path else None
        if parent_path and parent is None:
            raise ValueError(f"department {name_path!r} has no parent")
        node = _Node(name=name, name_path=name_path)
        (parent.children if parent else roots).append(node)
        new_parents.add(id(parent) if parent else None)
        by_path[name_path] = node
        created.append(node)
    if not created:
        return []
    _affected_sets(roots, new_parents)
    _write(list(by_path.values()), created)
    return [node.name_path for node in created]


def _write(nodes: list[_Node], created: list[_Node]) -> None:
    table = connection.ops.quote_name(Department._meta.db_table)  # the model's own table: no user input
    set_path = f"UPDATE {table} SET path = %s WHERE id = %s"  # noqa: S608
    set_numchild = f"UPDATE {table} SET numchild = %s WHERE id = %s"  # noqa: S608
    insert = (
        f"INSERT INTO {table} (path, depth, numchild, name, code, name_path, wecom_webhook_url, created_at)"  # noqa: S608
        " VALUES (%s, %s, %s, %s, '', %s, '', %s)"
    )
    moved = [n for n in nodes if n.pk is not None and n.path != n.old_path]
    numchild = {n.pk: len(n.children) for n in nodes if n.pk is not None and any(c.pk is None for c in n.children)}
    now = timezone.now()
    with connection.cursor() as cursor:
        if moved:
            # Out of the way first (no two rows may share a path at any moment), then into place.
            cursor.executemany(set_path, [(f"~{n.pk}", n.pk) for n in moved])
            cursor.executemany(set_path, [(n.path, n.pk) for n in moved])
        if numchild:
            cursor.executemany(set_numchild, [(c, pk) for pk, c in numchild.items()])
        cursor.executemany(
            insert,
            [(n.path, n.depth, len(n.children), n.name, n.name_path, now) for n in created],
        )
