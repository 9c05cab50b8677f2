"""The org chart as the pipeline needs it: who is who, the pairs and skip-level pairs, and who is
below whom at every depth (METRICS.md "People and pairs").

Emails are compared trimmed and case-insensitively, and an alias counts as its person's primary
email wherever it appears: :meth:`Org.resolve` does both, for any array of emails.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from cadence.normalised import normalise_email


def _normalise(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.lower().astype(object)


@dataclass(frozen=True)
class Org:
    """``people``: index email; name, manager_email, team.
    ``pairs``: index pair_id; kind ("pair" or "skip"), manager, report, via (the report's manager,
    for a skip-level pair; null for a pair).
    ``below``: person, ancestor: every (person, someone above them at any depth).
    """

    people: pd.DataFrame
    pairs: pd.DataFrame
    below: pd.DataFrame
    alias_map: dict[str, str]

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

    @cached_property
    def _managers(self) -> list[str]:
        direct = self.pairs[self.pairs["kind"] == "pair"]
        return sorted(direct["manager"].unique().tolist())

    def managers(self) -> list[str]:
        return list(self._managers)

    @cached_property
    def _directors(self) -> list[str]:
        managers = set(self._managers)
        above = self.below.loc[self.below["person"].isin(managers), "ancestor"]
        return sorted(above.unique().tolist())

    def directors(self) -> list[str]:
        return list(self._directors)

    def skip_level_managers(self) -> list[str]:
        skips = self.pairs[self.pairs["kind"] == "skip"]
        return sorted(skips["manager"].unique().tolist())

    @cached_property
    def _members(self) -> dict[str, list[str]]:
        below = self.below
        groups = below.groupby("ancestor").indices
        persons = below["person"].to_numpy()
        return {str(a): sorted(persons[rows].tolist()) for a, rows in groups.items()}

    def members(self, email: str) -> list[str]:
        """Everyone below ``email`` at any depth, sorted."""
        return self._members.get(email, [])


def build_org(people: pd.DataFrame, aliases: pd.DataFrame) -> Org:
    """The org from the ``people`` and ``aliases`` tables' rows."""
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
    direct = frame["manager_email"].dropna()
    direct = direct[direct.index != direct.to_numpy()]
    pairs = pd.DataFrame(
        {"kind": "pair", "manager": direct.to_numpy(), "report": direct.index.to_numpy()}
    )
    pairs["via"] = None
    step = pairs[["manager", "report"]]
    skips = step.merge(step, left_on="manager", right_on="report", suffixes=("", "_up"))
    skips = pd.DataFrame(
        {
            "kind": "skip",
            "manager": skips["manager_up"],
            "report": skips["report"],
            "via": skips["manager"],
        }
    )
    skips = skips[skips["manager"] != skips["report"]]
    both = pd.concat([pairs, skips], ignore_index=True)
    both = both.sort_values(["kind", "manager", "report"], ignore_index=True)
    both.index.name = "pair_id"
    return Org(people=frame, pairs=both, below=_closure(step), alias_map=alias_map)


def _closure(step: pd.DataFrame) -> pd.DataFrame:
    """(person, ancestor) for every ancestor at any depth; one merge per level of the tree."""
    up = step.rename(columns={"report": "person", "manager": "ancestor"})[["person", "ancestor"]]
    below = up.drop_duplicates(ignore_index=True)
    frontier = below
    while not frontier.empty:
        frontier = frontier.merge(up, left_on="ancestor", right_on="person", suffixes=("", "_up"))
        frontier = frontier[["person", "ancestor_up"]].rename(columns={"ancestor_up": "ancestor"})
        # Only pairs not found before go on, so a cycle in the chart cannot loop forever.
        frontier = frontier[frontier["person"] != frontier["ancestor"]].drop_duplicates()
        new = frontier.merge(below, how="left", indicator=True)["_merge"] == "left_only"
        frontier = frontier[new.to_numpy()]
        below = pd.concat([below, frontier], ignore_index=True)
    return below.sort_values(["ancestor", "person"], ignore_index=True)
