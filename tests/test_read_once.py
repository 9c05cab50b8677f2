"""Reading the store is a report run's largest cost: `report all` (this week and last week) and
the nightly after its sync read it once, and the two weeks share what does not depend on as-of."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from cadence.config import parse_config
from cadence.jobs import figures
from cadence.jobs.report_all import publish_all
from cadence.pipeline import compute_frames, compute_frames_at
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


def test_two_as_ofs_computed_together_equal_each_computed_alone(engine: Engine) -> None:
    golden_org.build(engine)
    config = parse_config({})
    now = figures.params_for(config, AS_OF)
    before = figures.params_for(config, AS_OF - figures.PREVIOUS_WEEK)
    frames = figures.load_frames(engine, min(now.load_since, before.load_since))
    together = compute_frames_at(frames, [now, before])
    for shared, params in zip(together, (now, before), strict=True):
        alone = compute_frames(frames, params)
        pd.testing.assert_frame_equal(shared.pairs, alone.pairs)
        pd.testing.assert_frame_equal(shared.occurrences, alone.occurrences)
        pd.testing.assert_frame_equal(shared.director_summary, alone.director_summary)
        pd.testing.assert_frame_equal(shared.trends.org, alone.trends.org)
    # The golden org's week-old figures differ from today's: two real runs, not one twice.
    assert not together[0].pairs["held"].equals(together[1].pairs["held"])
