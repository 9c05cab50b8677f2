"""The org chart as the pipeline needs it: who is who, how their emails resolve, and the
reporting lines (pairs, skip-level pairs, who is below whom at every depth: docs/metrics.md
"People and pairs"), which :func:`cadence.orgchart.reporting_lines` walks for every user of the
chart.

Emails are compared trimmed and case-insensitively, and an alias counts as its person's primary
email wherever it appears: :meth:`Org.resolve` does both, for any array of emails.

People who opted out (``[org] exclude``) are taken out of the chart here, before anything is
computed: no pair has them on either side, so their 1:1s are counted nowhere, and no figure, list
or sub-org can name them. Whoever reported to an opted-out manager is left with no manager in
the chart the pipeline sees: their 1:1s with that manager are the manager's too, and their team
sits under no director, since any figure of it would describe the opted-out manager. Each
manager keeps the number of their direct reports who opted out (:attr:`Org.opted_out`), which
their own report may state without naming anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from cadence.normalised import normalise_email
from cadence.orgchart import ReportingLines, reporting_lines


def _normalise(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.lower().astype(object)


@dataclass(frozen=True)
class Org:
    """``people``: index email; name, manager_email, team. ``lines``: the reporting lines, whose
    ``pairs`` (index pair_id; kind, manager, report, via) and ``below`` (person, ancestor) the
    org also offers as its own."""

    people: pd.DataFrame
    lines: ReportingLines
    alias_map: dict[str, str]
    # Per manager (index email), how many of their direct reports opted out; only those with any.
    opted_out: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))

    @property
    def pairs(self) -> pd.DataFrame:
        return self.lines.pairs

    @property
    def below(self) -> pd.DataFrame:
        return self.lines.below

    def resolve(self, emails: pd.Series) -> pd.Series:
        """Normalised emails with aliases replaced by primary emails; nulls stay null."""
        normal = _normalise(emails)
        return normal.map(self.alias_map).fillna(normal).where(normal.notna())

    def resolve_one(self, email: str) -> str:
        normal = normalise_email(email)
        return self.alias_map.get(normal, normal)

    @cached_property
    def _names(self) -> dict[str, str]:
        names = self.people["name"]
        return {e: n for e, n in zip(names.index, names, strict=True) if isinstance(n, str) and n}

    def name(self, email: str) -> str:
        """A person's display name (their email when the org chart does not know them)."""
        return self._names.get(email, email)

    def managers(self) -> list[str]:
        return self.lines.managers()

    def directors(self) -> list[str]:
        return self.lines.directors()

    def skip_level_managers(self) -> list[str]:
        return self.lines.skip_level_managers()

    def members(self, email: str) -> list[str]:
        """Everyone below ``email`` at any depth, sorted."""
        return self.lines.members(email)


def build_org(
    people: pd.DataFrame, aliases: pd.DataFrame, excluded: frozenset[str] = frozenset()
) -> Org:
    """The org from the ``people`` and ``aliases`` tables' rows, without the people of
    ``excluded`` (normalised emails or aliases): see the module's docstring."""
    alias_map = dict(zip(_normalise(aliases["alias"]), _normalise(aliases["email"]), strict=True))
    frame = pd.DataFrame(
        {
            "email": _normalise(people["email"]),
            "name": people["name"].astype(object),
            "manager_email": _normalise(people["manager_email"]),
            "team": people["team"].astype(object),
        }
    )
    mgr = frame["manager_email"]
    frame["manager_email"] = mgr.map(alias_map).fillna(mgr).where(mgr.notna() & (mgr != ""))
    frame = frame.drop_duplicates("email").set_index("email").sort_index()
    gone = {alias_map.get(e, e) for e in excluded}
    opted_out = pd.Series(dtype="int64")
    if gone:
        leaving = frame.index.isin(list(gone))
        opted_out = frame.loc[leaving, "manager_email"].dropna().value_counts().astype("int64")
        frame = frame[~leaving].copy()
        mgr = frame["manager_email"]
        frame["manager_email"] = mgr.where(~mgr.isin(list(gone)))
    return Org(
        people=frame,
        lines=reporting_lines(frame["manager_email"]),
        alias_map=alias_map,
        opted_out=opted_out,
    )
