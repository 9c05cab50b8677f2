"""Who may see which page: the one rule, for every route and every format.

Every report belongs to one person, its subject: a manager's report to that manager, a
director's report (and the sub-org pages drawn from it) to that director. A signed-in person may
see the reports whose subject they are, and the admins of ``[serve] admins`` every report.
Nobody may see another person's report, whatever their place in the org chart: a director's
manager report shows single reports' figures, which a director above them must never see, and
a sub-director's director report is cut for what that sub-director already knows, not for what
the director above knows, so it could give away single pairs by subtraction.

A refusal and a missing report look the same to the person asking (a 404), so nobody learns
whether someone exists or has a report.
"""

from __future__ import annotations

from dataclasses import dataclass

from cadence.normalised import normalise_email

KINDS = ("manager", "director")


@dataclass(frozen=True)
class Viewer:
    """A signed-in person: their email as the org chart spells it, and whether they are an
    admin."""

    email: str
    name: str
    admin: bool = False


def may_see(viewer: Viewer, kind: str, subject: str) -> bool:
    """Whether ``viewer`` may see the ``kind`` report of ``subject``."""
    if kind not in KINDS:
        return False
    return viewer.admin or normalise_email(subject) == viewer.email
