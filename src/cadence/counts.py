"""The names of the pair counts, in the order every report lists them.

The pipeline computes them, the views copy them into each pair's entry, and the CSV report
writes them as columns: one list, so a new count cannot reach one of them and not the others.
"""

from __future__ import annotations

PAIR_COUNTS = (
    "scheduled",
    "held",
    "missed",
    "cancelled_by_manager",
    "cancelled_by_report",
    "declined",
    "late_cancellations",
    "rescheduled",
    "made_up",
    "excused",
)
