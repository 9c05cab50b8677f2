"""The names of the pair counts and the trend's weekly counts, in the order every report lists
them.

The pipeline computes them, the views copy them into each pair's entry or trend week, and the
reports write them as columns: one list each, so a new count cannot reach one of them and not
the others.
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
# The counts of each week of a director's trend, in the order the reports list them: made-up
# and excused 1:1s are neither missed nor scheduled, so they come after the misses.
TREND_COUNTS = (
    "scheduled",
    "missed",
    "cancelled_by_manager",
    "cancelled_by_report",
    "made_up",
    "excused",
)
