"""Monthly performance-score deductions (绩效扣分): compute an open month, close it, book adjustments.

``compute`` runs a month (lock, rows, adjustments, audit), ``rows`` builds an employee's row from
the sanctions, ``upsert`` writes rows set-based, ``adjustments`` books corrections of closed months.

The rules, as HR reads them:

- **Which month.** A sanction belongs to the month of its violation's ``occurred_at`` in the company
  time zone (Asia/Shanghai): a violation at 2026-10-31 23:59:59 (Beijing time) counts in October,
  one at 2026-11-01 00:00:00 in November — whenever it was recorded or sanctioned.
- **What counts.** ``Sanction.objects.counting()``: not withdrawn, its violation neither dismissed nor
  overturned, and not under a pending appeal (nor derived from a violation under appeal).
- **Arithmetic.** Points = the sum of each counting sanction's own ``points`` (fixed when it was
  imposed: the rule's points, the company's points per kind, or an explicit points sanction).
  A ``forfeit_month`` sanction forfeits the month's performance pay: final score 0 and the
  ``forfeit`` flag. Otherwise final score = max(0, base − points). Fines = the sum of fine amounts.
  Base = ``CompanySettings.base_monthly_score`` at computation time (frozen with the month).
- **Who.** Every employee active in the month (hired on or before its last day, not departed before
  its first day) gets a row — with the base score when nothing was deducted — plus anyone with a
  counting sanction in the month.
- **Recompute.** An open month is recomputed from scratch with a set-based upsert: same input, same
  rows; a row whose sanctions disappeared is reset to the base score; rows of people no longer
  concerned are deleted.
- **Close.** Closing computes the month one last time and freezes it; ``compute_month`` refuses a
  closed month.
- **Adjustments.** When open month M is computed, every closed month C < M is recomputed as it would
  be now and compared, sanction by sanction, with what was booked for C (its frozen rows plus
  adjustments for C already made in other months). The difference becomes one ``adjustment`` row
  in M per employee, with ``adjusts_month`` = C. A sanction under a pending appeal changes nothing
  in a closed month until the appeal is decided: if it was booked it stays booked, if not it is not
  added; the decision then shows up as an adjustment (overturned → points given back).
- **Concurrency.** One transaction per month. The open months' rows are locked (``select_for_update``,
  in month order) so two computations, or a computation and a close, never overlap; a killed run
  leaves nothing half-written and a rerun produces the same rows.
"""

from __future__ import annotations

from .compute import ComputeResult, close_month, compute_month
from .rows import final_score

__all__ = ["ComputeResult", "close_month", "compute_month", "final_score"]
