"""Reading the store is a report run's largest cost: `report all` (this week and last week) and
the nightly after its sync read it once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from cadence.config import parse_config
from cadence.jobs import figures
from cadence.jobs.report_all import publish_all
from pipeline.builders import AS_OF
from reports import golden_org


def test_report_all_reads_the_store_once_for_both_weeks(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden_org.build(engine)
    reads: list[Any] = []
    load = figures.load_frames

    def counted(*args: Any) -> Any:
        reads.append(args[1])
        return load(*args)

    monkeypatch.setattr(figures, "load_frames", counted)
    summary, _ = publish_all(
        engine,
        parse_config({}),
        as_of=AS_OF,
        window_weeks=None,
        formats=["json"],
        out_dir=tmp_path,
    )
    assert len(reads) == 1
    # ...from the earlier of the two runs' first instants, so both have all they need.
    now = figures.params_for(parse_config({}), AS_OF)
    before = figures.params_for(parse_config({}), AS_OF - figures.PREVIOUS_WEEK)
    assert reads[0] == min(now.load_since, before.load_since)
    directors = [w for w in summary.written if w.kind == "director"]
    assert directors and all(w.files for w in directors)
