"""What a director's report may show under the privacy floor (docs/metrics.md "Privacy: nothing
under the floor, not even by subtraction").

No group of pairs whose figures a director can see, or work out by subtracting figures they can
see, may hold 1 to ``min_group_size - 1`` pairs they do not already know (complementary
suppression). A director already knows their own pairs, those with their direct reports: their
own manager report shows each of them, per pair and per week. So every count here is of the
**unknown** pairs, the others. Skip-level pairs (the director with a report of a direct report)
are pairs of their own, in no director figure: holding their figures takes nothing off any group,
so they make no (manager, report) pair known.

The rollups compute every figure; this module decides which of them a director's report shows,
and the views only shape what it allows. ``min_group_size = 1`` allows everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cadence.pipeline.result import HealthResult


@dataclass(frozen=True)
class DirectorPrivacy:
    """What one director's report may show.

    - ``org_trend``: the org's weekly trend (else its weeks show no figures);
    - ``sub_orgs``: the heads of the sub-orgs shown on their own;
    - ``other``: whether ``other`` is shown, holding the whole rest of the org (every pair in no
      shown sub-org);
    - ``managers``: the managers listed (the director first, then the org's managers by email),
      each with whether their figures are suppressed;
    - ``summary``: whether the org's pooled figures (and last week's) are shown.
    """

    org_trend: bool
    sub_orgs: list[str]
    other: bool
    managers: list[tuple[str, bool]]
    summary: bool


def director_privacy(result: HealthResult, director: str) -> DirectorPrivacy:
    """The privacy decisions for ``director``'s report (a director of ``result``'s org)."""
    floor = result.params.min_group_size
    org = result.org
    summaries = result.manager_summary
    reports = summaries["direct_reports"]
    # One pair per person below the director; the director's own pairs are known to them.
    unknown = len(org.members(director)) - int(reports[director])
    # The director's own pairs are listed like any manager's, and hidden under the floor too,
    # though they are known: the rule is the same for every manager.
    managers = [director, *(m for m in org.members(director) if m in summaries.index)]
    listed = [(m, manager_suppressed(int(reports[m]), floor)) for m in managers]
    hidden_unknown = sum(int(reports[m]) for m, hidden in listed[1:] if hidden)
    # A sub-org is a direct report who manages, with everyone below them. Its unknown pairs are
    # one per person below the head: the head's own 1:1 with the director is known.
    heads = [r for r in result.pairs_of(director, "pair")["report"] if r in summaries.index]
    shown, other = fold_sub_orgs({head: len(org.members(head)) for head in heads}, unknown, floor)
    return DirectorPrivacy(
        org_trend=unknown >= floor,
        sub_orgs=shown,
        other=other,
        managers=listed,
        summary=summary_shown(hidden_unknown, floor),
    )


def manager_suppressed(direct_reports: int, floor: int) -> bool:
    """A manager's figures are hidden when they describe fewer pairs than the floor. For the
    director this hides pairs they know; the rule is kept the same for every manager listed."""
    return direct_reports < floor


def summary_shown(hidden_unknown: int, floor: int) -> bool:
    """The org's pooled figures, less the shown managers' figures and the director's own pairs
    (which they know), give the suppressed managers' other pairs as one group of
    ``hidden_unknown`` pairs: the pooled figures show only when that group is empty or at least
    the floor. The org chart is today's in both runs, so the same managers are suppressed in
    last week's figures too, and this decides both."""
    return not 0 < hidden_unknown < floor


def fold_sub_orgs(
    unknown: Mapping[str, int], org_unknown: int, floor: int
) -> tuple[list[str], bool]:
    """The sub-orgs (head -> unknown pairs) shown on their own, fewest first, and whether
    ``other`` is; ``org_unknown`` is the org's unknown pairs.

    Sub-orgs with fewer unknown pairs than the floor fold into ``other``, and so, by
    complementary suppression, do the shown ones with the fewest (ties: by head) while what the
    shown sub-orgs leave of the org's unknown pairs (the "rest") is 1 to ``floor - 1``: the org
    trend less the shown sub-orgs and the director's own pairs then never isolates a small
    group. ``other`` holds the whole rest, and is left out when nothing folded (the rest is
    then the director's own pairs with non-managers, all known) or when the rest's unknown pairs
    cannot reach the floor.
    """
    shown = sorted((h for h in unknown if unknown[h] >= floor), key=lambda h: (unknown[h], h))
    folded = len(shown) < len(unknown)
    rest = org_unknown - sum(unknown[h] for h in shown)
    while 0 < rest < floor and shown:
        rest += unknown[shown.pop(0)]
        folded = True
    return shown, folded and rest >= floor
