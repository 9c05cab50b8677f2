"""What a director's report may show under the privacy floor (docs/metrics.md "Privacy: nothing
under the floor, not even by subtraction").

No figure shown may describe fewer than ``min_group_size`` pairs, and neither may any figure a
reader can derive by subtracting shown figures from each other (complementary suppression). The
rollups compute every figure; this module decides which of them a director's report shows, and
the views only shape what it allows. ``min_group_size = 1`` allows everything.
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
    org_pairs = len(org.members(director))
    summaries = result.manager_summary
    # The director's own pairs are pairs like any manager's, so they are listed and may be hidden.
    managers = [director, *(m for m in org.members(director) if m in summaries.index)]
    reports = summaries["direct_reports"]
    listed = [(m, manager_suppressed(int(reports[m]), floor)) for m in managers]
    hidden_pairs = sum(int(reports[m]) for m, hidden in listed if hidden)
    # A sub-org is a direct report who manages, with everyone below them: the head's own pair
    # with the director plus one pair per person below the head.
    heads = [r for r in result.pairs_of(director, "pair")["report"] if r in summaries.index]
    shown, other = fold_sub_orgs(
        {head: 1 + len(org.members(head)) for head in heads}, org_pairs, floor
    )
    return DirectorPrivacy(
        org_trend=org_pairs >= floor,
        sub_orgs=shown,
        other=other,
        managers=listed,
        summary=summary_shown(hidden_pairs, floor),
    )


def manager_suppressed(direct_reports: int, floor: int) -> bool:
    """A manager's figures are hidden when they describe fewer pairs than the floor."""
    return direct_reports < floor


def summary_shown(hidden_pairs: int, floor: int) -> bool:
    """The org's pooled figures minus the shown managers' figures give the suppressed managers'
    ``hidden_pairs`` as one group: the pooled figures show only when that group is empty or at
    least the floor. The org chart is today's in both runs, so the same managers are suppressed
    in last week's figures too, and this decides both."""
    return not 0 < hidden_pairs < floor


def fold_sub_orgs(sizes: Mapping[str, int], org_pairs: int, floor: int) -> tuple[list[str], bool]:
    """The sub-orgs (head -> pairs) shown on their own, smallest first, and whether ``other`` is.

    Sub-orgs with fewer pairs than the floor fold into ``other``, and so, by complementary
    suppression, do the smallest shown ones (ties: by head) until what the shown sub-orgs leave of
    the org's ``org_pairs`` (the "rest": folded sub-orgs plus the director's own pairs with
    non-managers) is none or at least the floor: org trend minus the shown sub-orgs then never
    isolates a small group. ``other`` holds the whole rest, and is left out when nothing folded
    or when the rest cannot reach the floor.
    """
    shown = sorted((h for h in sizes if sizes[h] >= floor), key=lambda h: (sizes[h], h))
    folded = len(shown) < len(sizes)
    rest = org_pairs - sum(sizes[h] for h in shown)
    while 0 < rest < floor and shown:
        rest += sizes[shown.pop(0)]
        folded = True
    return shown, folded and rest >= floor
