"""Week labels and the instants they stand for, in zones with daylight saving and across years."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cadence.weeks import week_end, week_label, week_last_second, week_monday, weeks_between

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_label_and_its_instants_agree() -> None:
    # Sunday 23:30 in Berlin is still that week, though it is already Sunday 22:30 UTC.
    assert week_label(datetime(2026, 11, 29, 22, 30, tzinfo=UTC), BERLIN) == "2026-W48"
    assert week_label(datetime(2026, 11, 29, 23, 30, tzinfo=UTC), BERLIN) == "2026-W49"
    assert week_end("2026-W48", BERLIN) == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    last = week_last_second("2026-W48", BERLIN)
    assert week_label(last, BERLIN) == "2026-W48"
    # The week that ends as summer time does: Monday 00:00 is UTC+1 again.
    assert week_end("2026-W43", BERLIN) == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    # ISO years: 2026-12-31 is in 2026-W53, 2027-01-04 starts 2027-W01.
    assert week_label(datetime(2026, 12, 31, 12, tzinfo=UTC), UTC) == "2026-W53"
    assert weeks_between(
        datetime(2026, 12, 20, tzinfo=UTC), datetime(2027, 1, 5, tzinfo=UTC), UTC
    ) == ["2026-W51", "2026-W52", "2026-W53", "2027-W01"]
    assert (
        weeks_between(datetime(2027, 1, 5, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC), UTC) == []
    )


@pytest.mark.parametrize(
    "label", ["2025-W53", "2026-W00", "2026-W54", "2026-w48", "26-W48", "2026W48", ""]
)
def test_a_label_that_is_no_week_is_refused(label: str) -> None:
    with pytest.raises(ValueError):
        week_monday(label)
