"""The web app's tables on SQLite and PostgreSQL: a week's saved reports replaced whole, read
back byte for byte, and sessions found, touched and ended by their secret's hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from cadence.store.saved import ViewRow, save_week, saved_subjects, saved_view, saved_weeks
from cadence.store.web_sessions import (
    add_session,
    end_expired_sessions,
    end_session,
    find_session,
    touch_session,
)

AS_OF = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _row(kind: str, email: str, text: str) -> ViewRow:
    return ViewRow.of({"kind": kind, kind: {"email": email}}, text)


def test_a_week_is_saved_whole_and_read_back_exactly(engine: Engine) -> None:
    text = '{"kind": "manager", "name": "Zoë \\u202e", "n": 1}\n' * 50
    rows = [_row("manager", f"m{i}@acme.test", text + str(i)) for i in range(1200)]
    rows.append(_row("director", "d@acme.test", "{}"))
    assert save_week(engine, "2026-W48", AS_OF, AS_OF, rows) == 1201
    assert saved_view(engine, "2026-W48", "manager", "m7@acme.test") == text + "7"
    assert saved_view(engine, "2026-W48", "manager", "nobody@acme.test") is None
    assert saved_view(engine, "2026-W47", "manager", "m7@acme.test") is None
    # Saving the week again replaces it: nothing of the first save stays.
    later = AS_OF + timedelta(days=1)
    save_week(engine, "2026-W48", later, later, [_row("manager", "m7@acme.test", "again")])
    assert saved_subjects(engine, "2026-W48") == [("manager", "m7@acme.test")]
    save_week(engine, "2026-W46", AS_OF - timedelta(weeks=2), AS_OF, [])
    weeks = saved_weeks(engine)
    assert [w.week for w in weeks] == ["2026-W48"]  # an empty week saves no row
    assert weeks[0].as_of == later and weeks[0].as_of.tzinfo is not None


def test_sessions_by_hash(engine: Engine) -> None:
    add_session(engine, "a" * 64, "ann@acme.test", AS_OF)
    add_session(engine, "b" * 64, "bob@acme.test", AS_OF - timedelta(hours=13))
    found = find_session(engine, "a" * 64)
    assert found is not None and found.email == "ann@acme.test" and found.created_at == AS_OF
    touch_session(engine, "a" * 64, AS_OF + timedelta(minutes=5))
    found = find_session(engine, "a" * 64)
    assert found is not None and found.seen_at == AS_OF + timedelta(minutes=5)
    assert (
        end_expired_sessions(engine, AS_OF - timedelta(hours=1), AS_OF - timedelta(hours=12)) == 1
    )
    assert find_session(engine, "b" * 64) is None
    end_session(engine, "a" * 64)
    assert find_session(engine, "a" * 64) is None
