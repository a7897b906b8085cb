"""What every detector returns and what it is given: the contract between the detectors and the runner.

A detector is a module of ``violations/detection/`` with a ``DETECTOR`` (a ``Detector``) whose
``detect(window)`` reads ``groups.chat.ChatMessage`` set-based (SQL over the window, never one
query per message) and yields ``Hit``s. The runner (``runner.py``) turns hits into suspected
violations (待核实) exactly once each: a hit's identity is ``(detector, key)``, so a rerun over the
same messages, an overlapping window or a re-import finds the same keys and adds nothing, and a
dismissed suspicion stays dismissed.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Window:
    """The messages to look at: ``sent_at`` in ``[since, until)`` of ``group_ids`` (None: every group).

    Detectors may read messages outside the window as context (an earlier occurrence of the same
    advertisement, an answer after a directive) but only report hits whose triggering message lies
    inside it. ``now`` is when the run happens: a deadline not yet passed at ``now`` is no hit yet.
    """

    since: datetime.datetime | None
    until: datetime.datetime | None
    now: datetime.datetime
    group_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Hit:
    """One suspected breach by one sender in one group.

    ``key`` is stable across runs and imports (built from the triggering messages' ``natural_key``s
    or the directive's, plus the person for per-person rules), unique per detector.
    ``message_ids`` are the evidence, the triggering message first; the runner adds context.
    ``reason`` is the sentence shown to HR and the group admin (Chinese, via gettext), saying why
    it fired with the numbers (length 350 > 200, 6 messages in 60 s, answered 31 min after …).
    ``employee_id`` may be None for a sender not matched to an employee: such hits are counted and
    shown, never made into a violation (a violation needs a person).
    """

    detector: str
    rule_code: str
    key: str
    group_id: int
    occurred_at: datetime.datetime
    reason: str
    message_ids: tuple[int, ...]
    employee_id: int | None = None
    sender_platform_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Detector:
    """``name``: stable id stored on every hit (never rename); ``rule_codes``: the catalog rules it
    may cite; ``detect``: the function."""

    name: str
    rule_codes: tuple[str, ...]
    detect: Callable[[Window], Iterable[Hit]]
    label: str = ""


def hits(detector: Detector, window: Window) -> Iterator[Hit]:
    """The detector's hits whose triggering message lies inside the window."""
    for hit in detector.detect(window):
        if window.since is not None and hit.occurred_at < window.since:
            continue
        if window.until is not None and hit.occurred_at >= window.until:
            continue
        yield hit


def all_detectors() -> list[Detector]:
    """Every detector: each module of this package that defines ``DETECTOR`` (sorted by name)."""
    import importlib
    import pkgutil

    from violations import detection

    found = []
    for info in pkgutil.iter_modules(detection.__path__):
        module = importlib.import_module(f"{detection.__name__}.{info.name}")
        detector = getattr(module, "DETECTOR", None)
        if isinstance(detector, Detector):
            found.append(detector)
    return sorted(found, key=lambda d: d.name)
