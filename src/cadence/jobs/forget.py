"""``cadence forget``: erase one person from the store, and keep them out of it.

The store does the erasure (:mod:`cadence.store.forget`, one transaction); this job decides who
"the person" is (the address given, resolved through the org chart to their email and every
alias), runs it under the run lock, so that no sync writes their address back while it runs, and
says what it did. ``--undo`` lifts the block on later syncs and imports; what was erased stays
erased. docs/erasure.md describes it for the people who run cadence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from cadence.errors import UsageError
from cadence.normalised import normalise_email
from cadence.orgchart import is_valid_email
from cadence.store.forget import Erasure, erase, forget_undo, person_of
from cadence.store.lock import run_lock


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Forgotten:
    """What one ``cadence forget`` did (or, with ``dry_run``, would do)."""

    email: str
    aliases: tuple[str, ...]  # as the org chart gave them
    erasure: Erasure
    dry_run: bool

    def lines(self) -> list[str]:
        """What the command prints: one line, or a heading and one line per table."""
        who = self.email + (f" (aliases: {', '.join(self.aliases)})" if self.aliases else "")
        e = self.erasure
        if not e.found and not e.added:
            return [f"{who} is already forgotten: nothing left to erase, nothing changed"]
        if not e.found:
            verb = "would be" if self.dry_run else "was"
            return [
                f"{who} is nowhere in the store: nothing to erase; their address {verb} recorded "
                "as forgotten, so later syncs and org imports skip it"
                + (" (dry run: nothing changed)" if self.dry_run else "")
            ]
        if self.dry_run:
            head = f"dry run: forgetting {who} would change, in one transaction:"
        else:
            head = f"forgot {who}, in one transaction:"
        width = max(len(name) for name, _, _ in e.tables())
        lines = [head]
        for name, deleted, changed in e.tables():
            said = [f"{deleted} deleted"] if deleted else []
            said += [f"{changed} changed"] if changed else []
            lines.append(f"  {name:<{width}}  {', '.join(said)}")
        if e.added:
            lines.append(
                f"  and {e.added} address hash{'es' * (e.added != 1)} recorded, so later syncs "
                "and org imports skip them"
            )
        if self.dry_run:
            lines.append("nothing was changed")
        return lines


def checked_address(email: str) -> str:
    """``email`` normalised, or a :class:`UsageError` (exit 2) saying why it is no address."""
    address = normalise_email(email)
    if not is_valid_email(address):
        raise UsageError(f"{email!r} is not an email address")
    return address


def forget(
    engine: Engine,
    email: str,
    *,
    dry_run: bool = False,
    now: Callable[[], datetime] = utc_now,
) -> Forgotten:
    """Erase the person ``email`` names (their email or an alias) and record their addresses'
    hashes; an address the store does not know is still recorded, which blocks it ahead of
    time. Raises :class:`cadence.errors.LockHeld` while a sync or a nightly runs."""
    address = checked_address(email)
    person = person_of(engine, address)
    aliases: tuple[str, ...]
    names: tuple[str, ...]
    if person is None:
        primary, aliases, names = address, (), ()
    else:
        primary, aliases, names = person.email, person.aliases, (person.name,)
    addresses = {primary, *aliases, address}
    if dry_run:
        erasure = erase(engine, addresses, names, now=now(), dry_run=True)
    else:
        with run_lock(engine, "forget"):
            erasure = erase(engine, addresses, names, now=now())
    return Forgotten(primary, aliases, erasure, dry_run)


def undo(engine: Engine, email: str, *, dry_run: bool = False) -> int:
    """Stop skipping ``email`` (and the addresses forgotten with it) in later syncs and org
    imports; returns how many addresses that was. Raises :class:`UsageError` when it is not
    forgotten."""
    address = checked_address(email)
    lifted = forget_undo(engine, address, dry_run=dry_run)
    if not lifted:
        raise UsageError(f"{address} is not forgotten: nothing to undo")
    return lifted
