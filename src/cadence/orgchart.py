"""The org chart: read it from a CSV, check it, and answer who is below whom.

Pure functions, no database: :func:`parse_csv` reads the CSV of docs/org-chart.md,
:func:`validate_chart` is the one check every chart passes before it is stored (the CSV import and
``cadence org pull`` both use it, so a directory is held to the same rules as a file), and
:func:`reporting_lines` walks a chart once, with a few vectorised merges, into its pairs,
skip-level pairs and who is below whom at every depth. Both the chart a user imports
(:class:`Hierarchy`) and the pipeline's org (``cadence.pipeline.org.Org``) ask those walks, so
there is one model of who reports to whom.

A valid chart is one tree: every email and alias appears once, every manager is a person of the
chart (an alias of a person counts as that person), exactly one person (the top) has no manager,
and nobody is their own manager, directly or through a cycle.

A person's country is checked against the countries and subdivisions the ``holidays`` package
has public holidays for, and their time zone against the IANA database, when the chart comes in:
a typo found only when away time is computed would quietly count a holiday as a missed 1:1.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cadence.errors import InputError
from cadence.normalised import OrgPerson, normalise_email

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

REQUIRED_COLUMNS = ("email", "name", "manager_email")
OPTIONAL_COLUMNS = ("team", "source", "aliases", "country", "timezone")
MAX_PROBLEMS = 10  # problems shown in one message; the rest are counted
MAX_LISTED = 10  # people named in one chart-wide problem (tops, a cycle)

# What the store's columns hold (store/models.py); longer values are refused here, not by the DB.
MAX_EMAIL = 320
MAX_NAME = 500
MAX_SOURCE = 200
MAX_COUNTRY = 64  # "DE-BY"; the holidays package's longest subdivision has 17 characters
MAX_TIMEZONE = 64  # the longest IANA name has 32

# An address as mail systems write one: a local part of RFC 5322 atoms joined by single dots
# (no leading, trailing or doubled dot, so nothing like "../users/x" passes), and a domain of
# DNS labels with a dot required: a company address always has one, and a missing dot is far
# likelier a typo than a real host.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")


def is_valid_email(email: str) -> bool:
    """Whether ``email`` (already normalised) is an address cadence accepts."""
    return len(email) <= MAX_EMAIL and _EMAIL.fullmatch(email) is not None


def control_character(text: str) -> str | None:
    """The first control character in ``text`` (NUL, ESC, BEL, DEL, C1...) as ``U+XXXX``, or
    ``None``: no name from a chart may carry one, since it can only hide or rewrite text."""
    for ch in text:
        if unicodedata.category(ch) == "Cc":
            return f"U+{ord(ch):04X}"
    return None


# --- where a person works -----------------------------------------------------------------------


@cache
def _countries() -> dict[str, dict[str, str]]:
    """Country code -> its subdivisions (upper case -> as the holidays package spells them)."""
    # Imported here: reading the package's registry costs a third of a second, and only a chart
    # or a configuration that names a country needs it.
    import holidays

    supported = holidays.list_supported_countries(include_aliases=False)
    return {code: {sub.upper(): sub for sub in subs} for code, subs in supported.items()}


def country_code(text: str) -> str:
    """``text`` as the chart keeps a country: ``DE``, ``US-CA`` (upper case, as the holidays
    package spells the subdivision). Raises ``ValueError`` saying why it is none: a country or
    subdivision the package has no public holidays for."""
    value = text.strip()
    code, _, sub = value.partition("-")
    countries = _countries()
    subdivisions = countries.get(code.upper()) if len(code) == 2 else None
    if subdivisions is None:
        raise ValueError(
            f"{value!r} is not an ISO 3166-1 alpha-2 country code the holidays package knows "
            "(such as DE, GB, US; a subdivision after a dash: US-CA)"
        )
    if not sub:
        return code.upper()
    found = subdivisions.get(sub.strip().upper())
    if found is None:
        if not subdivisions:
            raise ValueError(
                f"{value!r}: {code.upper()} has no subdivisions in the holidays package"
            )
        raise ValueError(
            f"{value!r}: {sub.strip()!r} is not a subdivision of {code.upper()} the holidays "
            f"package knows ({_listed(sorted(subdivisions.values()))})"
        )
    return f"{code.upper()}-{found}"


@cache
def _zones() -> dict[str, str]:
    """Every IANA zone name, by its lower case."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def zone_name(text: str) -> str:
    """``text`` as the IANA spells the zone (``europe/berlin`` is ``Europe/Berlin``). Raises
    ``ValueError`` saying why it is none."""
    value = text.strip()
    found = _zones().get(value.lower())
    if found is None:
        close = difflib.get_close_matches(value, list(_zones().values()), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else " (such as Europe/Berlin)"
        raise ValueError(f"{value!r} is not an IANA time zone{hint}")
    return found


# --- validation ---------------------------------------------------------------------------------


@dataclass
class _Problems:
    """Problems found in a chart, each tied to the person (by index) it is about, if any."""

    origin: str
    labels: Sequence[str]  # where each person came from: "line 7", "user ann@acme.test"
    in_file: bool  # labels are line numbers (else directory users)
    found: list[tuple[int, str]] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return "the file" if self.in_file else "the directory"

    def add(self, index: int | None, text: str) -> None:
        # Chart-wide problems sort after every person's own.
        self.found.append((len(self.labels) if index is None else index, text))

    def ref(self, index: int, email: str) -> str:
        """A person named inside a chart-wide problem."""
        return f"{email} ({self.labels[index]})" if self.in_file else email

    def raise_if_any(self) -> None:
        if not self.found:
            return
        found = sorted(self.found, key=lambda p: p[0])  # stable: checks keep their order

        def place(index: int) -> str | None:
            return self.labels[index] if index < len(self.labels) else None

        if len(found) == 1:
            index, text = found[0]
            label = place(index)
            separator = " " if self.in_file else ", "  # "f.csv line 7", "directory of X, user Y"
            where = f"{self.origin}{separator}{label}" if label else self.origin
            raise InputError(f"{where}: {text}")
        lines = [f"{self.origin}: {len(found)} problems, nothing was changed:"]
        for index, text in found[:MAX_PROBLEMS]:
            label = place(index)
            lines.append(f"  {label}: {text}" if label else f"  {text}")
        if len(found) > MAX_PROBLEMS:
            lines.append(f"  ... and {len(found) - MAX_PROBLEMS} more")
        raise InputError("\n".join(lines))


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown if len(names) <= MAX_LISTED else f"{shown} and {len(names) - MAX_LISTED} more"


def _clean(p: OrgPerson, country: str | None, timezone: str | None) -> OrgPerson:
    """The person with emails normalised, empty optional values made ``None``, and the chart's
    ``country`` and ``timezone`` for someone who has none."""
    manager = normalise_email(p.manager_email) if p.manager_email else ""
    aliases = (normalise_email(a) for a in p.aliases)
    return OrgPerson(
        email=normalise_email(p.email),
        name=p.name.strip(),
        manager_email=manager or None,
        team=(p.team or "").strip() or None,
        source=(p.source or "").strip() or None,
        aliases=tuple(a for a in aliases if a),
        country=(p.country or "").strip() or country,
        timezone=(p.timezone or "").strip() or timezone,
    )


def _normal(normalise: Callable[[str], str], value: str | None) -> str | None:
    """A default as the chart keeps it; the configuration already refused a wrong one."""
    if not value:
        return None
    try:
        return normalise(value)
    except ValueError:
        return value  # refused with the person's place by the field checks


def validate_chart(
    people: Sequence[OrgPerson],
    origin: str,
    *,
    lines: Sequence[int] | None = None,
    sources: Collection[str] = (),
    country: str | None = None,
    timezone: str | None = None,
) -> list[OrgPerson]:
    """Check a whole chart and return it cleaned, or raise one :class:`InputError` naming the
    first :data:`MAX_PROBLEMS` problems and where each is.

    ``origin`` names where the chart came from (``people.csv``, ``directory of source acme``);
    ``lines`` gives each person's line in a file, else people are named by email. ``sources`` are
    the configured ``[sources.NAME]``: when there are any, a person's ``source`` must be one.
    ``country`` and ``timezone`` (``[org] country``, ``[org] timezone``) are given to everyone
    the chart says none for.

    The returned people have normalised emails, manager emails given as an alias resolved to
    that person's primary email, ``None`` for empty optional values, countries in upper case
    (``US-CA``) and time zones as the IANA spells them.
    """
    defaults = (_normal(country_code, country), _normal(zone_name, timezone))
    cleaned = [_clean(p, *defaults) for p in people]
    if lines is not None:
        labels = [f"line {n}" for n in lines]
    else:
        labels = [f"user {p.email}" if p.email else f"user {p.name!r}" for p in cleaned]
    problems = _Problems(origin, labels, in_file=lines is not None)
    if not cleaned:
        problems.add(None, "no people: a chart needs at least its top")
        problems.raise_if_any()

    cleaned = _check_fields(cleaned, problems, sources)
    first: dict[str, int] = {}  # primary email -> index of its first row
    for i, p in enumerate(cleaned):
        if p.email in first:
            problems.add(i, f"duplicate email {p.email} (also {labels[first[p.email]]})")
        elif p.email:
            first[p.email] = i
    owner = _check_aliases(cleaned, first, problems)
    resolved = _resolve_managers(cleaned, first, owner, problems)
    _check_tops(resolved, first, problems)
    _check_cycles(resolved, first, problems)
    problems.raise_if_any()
    return resolved


def _check_fields(
    people: Sequence[OrgPerson], problems: _Problems, sources: Collection[str]
) -> list[OrgPerson]:
    """Refuse every value no column may hold; returns the people with their country and time
    zone spelled as the chart keeps them."""
    configured = ", ".join(sorted(sources))
    spelled = []
    for i, p in enumerate(people):
        spelled.append(_check_place(i, p, problems))
        if not p.email:
            problems.add(i, "email is empty")
        elif not is_valid_email(p.email):
            problems.add(i, f"email {p.email!r} is not a valid email address")
        if not p.name:
            problems.add(i, "name is empty")
        elif len(p.name) > MAX_NAME:
            problems.add(i, f"name is longer than {MAX_NAME} characters")
        for field_name, text in (("name", p.name), ("team", p.team or "")):
            if (found := control_character(text)) is not None:
                problems.add(i, f"{field_name} contains a control character ({found})")
        if p.manager_email and not is_valid_email(p.manager_email):
            problems.add(i, f"manager_email {p.manager_email!r} is not a valid email address")
        for alias in p.aliases:
            if not is_valid_email(alias):
                problems.add(i, f"alias {alias!r} is not a valid email address")
        if p.team and len(p.team) > MAX_NAME:
            problems.add(i, f"team is longer than {MAX_NAME} characters")
        if p.source and sources and p.source not in sources:
            problems.add(
                i, f"source {p.source!r} is not a configured [sources.NAME] ({configured})"
            )
        elif p.source and len(p.source) > MAX_SOURCE:
            problems.add(i, f"source is longer than {MAX_SOURCE} characters")
    return spelled


def _check_place(i: int, p: OrgPerson, problems: _Problems) -> OrgPerson:
    country, timezone = p.country, p.timezone
    for field_name, value, normalise, longest in (
        ("country", p.country, country_code, MAX_COUNTRY),
        ("timezone", p.timezone, zone_name, MAX_TIMEZONE),
    ):
        if value is None:
            continue
        if len(value) > longest:
            problems.add(i, f"{field_name} is longer than {longest} characters")
            continue
        try:
            spelled = normalise(value)
        except ValueError as exc:
            problems.add(i, f"{field_name} {exc}")
            continue
        if field_name == "country":
            country = spelled
        else:
            timezone = spelled
    if (country, timezone) == (p.country, p.timezone):
        return p
    return replace(p, country=country, timezone=timezone)


def _check_aliases(
    people: Sequence[OrgPerson], first: dict[str, int], problems: _Problems
) -> dict[str, int]:
    """Every alias -> the index of the person it belongs to; refuses any alias seen twice or
    equal to someone's primary email."""
    owner: dict[str, int] = {}
    for i, p in enumerate(people):
        for alias in p.aliases:
            if alias in first:
                j = first[alias]
                whose = "their own email" if j == i else f"the email of {problems.labels[j]}"
                problems.add(i, f"alias {alias} is {whose}")
            elif alias in owner:
                j = owner[alias]
                where = "twice here" if j == i else f"also as an alias {problems.labels[j]}"
                problems.add(i, f"alias {alias} is listed {where}")
            else:
                owner[alias] = i
    return owner


def _resolve_managers(
    people: Sequence[OrgPerson],
    first: dict[str, int],
    owner: dict[str, int],
    problems: _Problems,
) -> list[OrgPerson]:
    """People with each manager given by alias replaced by the primary email. A manager that
    cannot be resolved is left as given (a problem is already recorded)."""
    resolved = []
    for i, p in enumerate(people):
        m = p.manager_email
        if m is None or not is_valid_email(m):
            resolved.append(p)
            continue
        j = first.get(m, owner.get(m))
        if j is None:
            problems.add(i, f"manager {m} is not in {problems.scope} (nobody's email or alias)")
            resolved.append(p)
            continue
        primary = people[j].email
        if primary == p.email:
            via = "" if m == primary else f" (via their alias {m})"
            problems.add(i, f"{p.email} is their own manager{via}")
        resolved.append(p if primary == m else replace(p, manager_email=primary))
    return resolved


def _check_tops(people: Sequence[OrgPerson], first: dict[str, int], problems: _Problems) -> None:
    tops = [i for i in first.values() if people[i].manager_email is None]
    if not tops:
        problems.add(None, "no top: everyone has a manager (the top's manager_email is empty)")
    elif len(tops) > 1:
        names = [problems.ref(i, people[i].email) for i in tops]
        problems.add(
            None, f"{len(tops)} people have no manager, only the top may: {_listed(names)}"
        )


def _check_cycles(people: Sequence[OrgPerson], first: dict[str, int], problems: _Problems) -> None:
    """Find every reporting cycle in one pass: each person is walked up at most once."""
    manager = {
        p.email: p.manager_email
        for i, p in enumerate(people)
        if first.get(p.email) == i and p.manager_email in first and p.manager_email != p.email
    }
    done: set[str] = set()
    for start in manager:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = manager.get(node)
        if node is not None and node in on_path:
            cycle = path[on_path[node] :]
            names = [problems.ref(first[e], e) for e in cycle]
            shown = " -> ".join(names[:MAX_LISTED])
            more = f" -> ... ({len(cycle)} people)" if len(cycle) > MAX_LISTED else ""
            problems.add(
                None, f"reporting cycle (each reports to the next): {shown}{more} -> {cycle[0]}"
            )
        done.update(path)


# --- the CSV -----------------------------------------------------------------------------------


def parse_csv(
    path: Path,
    *,
    sources: Collection[str] = (),
    country: str | None = None,
    timezone: str | None = None,
) -> list[OrgPerson]:
    """Read and validate an org chart CSV (the format of docs/org-chart.md); ``country`` and
    ``timezone`` are what an empty cell (or a missing column) of those columns means.

    Raises :class:`InputError` naming the file and the line of every problem it reports.
    """
    name = str(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{name} line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from exc
    if not text.strip():
        raise InputError(f"{name}: the file is empty (it needs a header line and people)")
    people, lines = _read_rows(text, name)
    return validate_chart(
        people, name, lines=lines, sources=sources, country=country, timezone=timezone
    )


def _read_rows(text: str, name: str) -> tuple[list[OrgPerson], list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                records.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        # The record that failed starts at ``line`` (an unclosed quote runs to the end).
        raise InputError(f"{name} line {line}: not valid CSV: {exc}") from exc
    if not records:
        raise InputError(f"{name}: the file is empty (it needs a header line and people)")
    header_line, header = records[0]
    columns = _columns(header, f"{name} line {header_line}")
    people: list[OrgPerson] = []
    lines: list[int] = []
    wrong: list[str] = []
    for line, row in records[1:]:
        if len(row) < len(columns) and set(columns[len(row) :]) <= set(OPTIONAL_COLUMNS):
            # Spreadsheets and hand edits drop trailing empty cells; only optional ones may go.
            row = row + [""] * (len(columns) - len(row))
        if len(row) != len(columns):
            wrong.append(f"line {line}: {len(row)} fields, the header has {len(columns)}")
            continue
        cells = dict(zip(columns, (cell.strip() for cell in row), strict=True))
        people.append(
            OrgPerson(
                email=cells["email"],
                name=cells["name"],
                manager_email=cells["manager_email"] or None,
                team=cells.get("team") or None,
                source=cells.get("source") or None,
                aliases=tuple(a for a in cells.get("aliases", "").split(";") if a.strip()),
                country=cells.get("country") or None,
                timezone=cells.get("timezone") or None,
            )
        )
        lines.append(line)
    if wrong:
        hint = " (a value with a comma needs double quotes)"
        if len(wrong) == 1:
            raise InputError(f"{name} {wrong[0]}{hint}")
        shown = "\n".join(f"  {w}" for w in wrong[:MAX_PROBLEMS])
        more = f"\n  ... and {len(wrong) - MAX_PROBLEMS} more" if len(wrong) > MAX_PROBLEMS else ""
        raise InputError(f"{name}: {len(wrong)} rows do not match the header{hint}:\n{shown}{more}")
    if not people:
        raise InputError(f"{name}: the file has a header but no people")
    return people, lines


def _columns(header: Sequence[str], where: str) -> list[str]:
    """The header's column names (trimmed, case-insensitive), refusing unknown, missing and
    repeated ones."""
    columns = [c.strip().lower() for c in header]
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    unknown = [c for c in columns if c not in known]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    faults = []
    if unknown:
        faults.append("unknown column(s) " + ", ".join(repr(c) for c in unknown))
    if missing:
        faults.append("missing column(s) " + ", ".join(missing))
    if repeated:
        faults.append("repeated column(s) " + ", ".join(repeated))
    if faults:
        raise InputError(
            f"{where}: {'; '.join(faults)}. The first line must be the header: "
            f"{','.join(REQUIRED_COLUMNS)}, optionally {', '.join(OPTIONAL_COLUMNS)}, in any order"
        )
    return columns


# --- the reporting lines ------------------------------------------------------------------------
# pandas is imported when a chart is walked, not with this module: every command imports the
# module to check charts, and most never walk one.


@dataclass(frozen=True)
class ReportingLines:
    """Who reports to whom, walked once: the one model of the chart's lines.

    ``pairs``: index pair_id; kind ("pair" or "skip"), manager, report, via (the report's manager,
    for a skip-level pair; null for a pair), sorted by kind, manager and report.
    ``below``: person, ancestor: every (person, someone above them at any depth).

    Every list comes back sorted by email, so reports are stable from run to run.
    """

    pairs: pd.DataFrame
    below: pd.DataFrame

    @cached_property
    def _direct(self) -> dict[str, list[str]]:
        direct = self.pairs[self.pairs["kind"] == "pair"]
        reports = direct["report"].to_numpy()
        groups = direct.groupby("manager", sort=True).indices
        return {str(m): reports[rows].tolist() for m, rows in groups.items()}

    def managers(self) -> list[str]:
        """Everyone with at least one direct report."""
        return list(self._direct)

    def direct_reports(self, email: str) -> list[str]:
        return list(self._direct.get(email, ()))

    @cached_property
    def _directors(self) -> list[str]:
        above = self.below.loc[self.below["person"].isin(set(self._direct)), "ancestor"]
        return sorted(above.unique().tolist())

    def directors(self) -> list[str]:
        """Everyone with at least one manager below them, at any depth."""
        return list(self._directors)

    def skip_level_managers(self) -> list[str]:
        skips = self.pairs[self.pairs["kind"] == "skip"]
        return sorted(skips["manager"].unique().tolist())

    def pair_list(self, kind: str = "pair") -> list[tuple[str, str]]:
        """Every (manager, report) of the pairs (``kind`` "pair") or skip-level pairs ("skip")."""
        rows = self.pairs[self.pairs["kind"] == kind]
        return list(zip(rows["manager"].tolist(), rows["report"].tolist(), strict=True))

    @cached_property
    def _members(self) -> dict[str, list[str]]:
        groups = self.below.groupby("ancestor").indices
        persons = self.below["person"].to_numpy()
        return {str(a): sorted(persons[rows].tolist()) for a, rows in groups.items()}

    def members(self, email: str) -> list[str]:
        """Everyone below ``email`` at any depth (none for someone unknown)."""
        return self._members.get(email, [])


def reporting_lines(manager_of: pd.Series) -> ReportingLines:
    """The lines of a chart from each person's manager: index the person's email, value their
    manager's (null for none), both normalised and aliases resolved to primary emails.

    Nobody is their own manager's report; a chart that is not a tree (the pipeline reads the
    store as it is) still ends: a cycle is walked once around.
    """
    import pandas as pd

    direct = manager_of.dropna()
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
    return ReportingLines(pairs=both, below=_closure(step))


def _closure(step: pd.DataFrame) -> pd.DataFrame:
    """(person, ancestor) for every ancestor at any depth, on integer codes of the emails
    (numbered in email order, so sorting the codes sorts the emails).

    Linear in what it returns: everyone whose line reaches the top is walked up one level per
    step with no look-back (a line cannot repeat itself); the people whose line runs into a
    cycle (a chart that is not a tree, as the store may hold) are walked until their line comes
    back to where it entered the cycle, so a cycle is walked once around.
    """
    import numpy as np
    import pandas as pd

    n = len(step)
    codes, emails = pd.factorize(
        np.concatenate([step["report"].to_numpy(), step["manager"].to_numpy()]), sort=True
    )
    size = len(emails)
    manager = np.full(size, -1, dtype=np.int64)
    manager[codes[:n]] = codes[n:]
    person, up = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
    tops = _reaches_a_top(manager)
    found = [_walk_up(person[tops[person]], up[tops[person]], manager)]
    if not tops[person].all():
        found.append(_walk_up_cycles(person[~tops[person]], up[~tops[person]], manager))
    persons = np.concatenate([p for p, _ in found])
    ancestors = np.concatenate([a for _, a in found])
    order = np.lexsort((persons, ancestors))
    names = np.asarray(emails, dtype=object)
    return pd.DataFrame({"person": names[persons[order]], "ancestor": names[ancestors[order]]})


def _reaches_a_top(manager: np.ndarray) -> np.ndarray:
    """Per code, whether following managers ends at someone with none (rather than in a cycle):
    pointer doubling, so a chain of any depth takes log2(depth) steps."""
    import numpy as np

    size = len(manager)
    top = size  # a sentinel above every top, its own manager
    jump = np.append(np.where(manager >= 0, manager, top), top)
    for _ in range(max(1, int(size).bit_length() + 1)):
        jump = jump[jump]
    return jump[:size] == top


def _walk_up(
    person: np.ndarray, ancestor: np.ndarray, manager: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (person, ancestor) up to the top, for people whose line reaches one."""
    import numpy as np

    found_p, found_a = [person], [ancestor]
    while len(person):
        up = manager[ancestor]
        go = up >= 0
        person, ancestor = person[go], up[go]
        found_p.append(person)
        found_a.append(ancestor)
    return np.concatenate(found_p), np.concatenate(found_a)


def _walk_up_cycles(
    person: np.ndarray, ancestor: np.ndarray, manager: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (person, ancestor) for people whose line runs into a cycle, each ancestor once.

    Each line is a tail (maybe empty) into one cycle. The cycle's members are what following
    managers long enough always lands on, and a line's entry is its first member (pointer
    doubling finds both); a line then stops when it comes back to its entry (or, for a member,
    to the person). Linear in what it returns, like :func:`_walk_up`.
    """
    import numpy as np

    size = len(manager)
    rounds = max(1, int(size).bit_length() + 1)
    going = np.where(manager >= 0, manager, np.arange(size))
    far = going
    for _ in range(rounds):
        far = far[far]
    # Only the people walked here are known to lead into a cycle (the others end at a top).
    on_cycle = np.zeros(size, dtype=bool)
    on_cycle[far[person]] = True
    entry = np.where(on_cycle, np.arange(size), going)
    for _ in range(rounds):
        entry = entry[entry]
    found_p, found_a = [person], [ancestor]
    passed = ancestor == entry[person]
    while len(person):
        up = manager[ancestor]
        go = (up != person) & ~(passed & (up == entry[person]))
        person, ancestor = person[go], up[go]
        passed = passed[go] | (ancestor == entry[person])
        found_p.append(person)
        found_a.append(ancestor)
    return np.concatenate(found_p), np.concatenate(found_a)


# --- the hierarchy ------------------------------------------------------------------------------


class Hierarchy:
    """Who reports to whom in a valid chart, by email: the people and their aliases, with the
    walks of :class:`ReportingLines`.

    Emails given to any method may be aliases or unnormalised; unknown ones raise ``KeyError``.
    Lists come back sorted by email, so reports are stable from run to run.
    """

    def __init__(self, people: Iterable[OrgPerson]) -> None:
        import pandas as pd

        self.people: dict[str, OrgPerson] = {p.email: p for p in people}
        self._aliases = {a: p.email for p in self.people.values() for a in p.aliases}
        managers = pd.Series(
            [p.manager_email for p in self.people.values()],
            index=pd.Index(list(self.people), dtype=object),
            dtype=object,
        )
        self.lines = reporting_lines(managers)
        tops = [p.email for p in self.people.values() if p.manager_email is None]
        self.top: str | None = tops[0] if len(tops) == 1 else None

    def resolve(self, email: str) -> str | None:
        """The primary email of whoever ``email`` (a primary email or an alias) belongs to."""
        e = normalise_email(email)
        return e if e in self.people else self._aliases.get(e)

    def _known(self, email: str) -> str:
        primary = self.resolve(email)
        if primary is None:
            raise KeyError(f"{email} is not in the org chart")
        return primary

    def person(self, email: str) -> OrgPerson:
        return self.people[self._known(email)]

    def manager_of(self, email: str) -> str | None:
        return self.people[self._known(email)].manager_email

    def direct_reports(self, email: str) -> list[str]:
        return self.lines.direct_reports(self._known(email))

    def pairs(self) -> list[tuple[str, str]]:
        """Every (manager, direct report)."""
        return self.lines.pair_list("pair")

    def skip_level_pairs(self) -> list[tuple[str, str]]:
        """Every (manager's manager, report)."""
        return self.lines.pair_list("skip")

    def org_of(self, director: str) -> list[str]:
        """Everyone below ``director``, at every depth (not the director)."""
        return list(self.lines.members(self._known(director)))

    def managers(self) -> list[str]:
        """Everyone with at least one direct report."""
        return self.lines.managers()

    def directors(self) -> list[str]:
        """Everyone with at least one manager below them, at any depth."""
        return self.lines.directors()


def build_hierarchy(people: Iterable[OrgPerson]) -> Hierarchy:
    """The hierarchy of a chart that passed :func:`validate_chart` (or came from the store)."""
    return Hierarchy(people)
