"""Golden tests: the fixed small org (golden_org.py), stored through the real store, run through
the real pipeline at a fixed as-of, and every report written by ``report all`` in every format,
compared byte for byte with the files in tests/reports/golden/.

On SQLite and PostgreSQL alike. After an intended change to a report, regenerate the files and
review the diff before committing:

    CADENCE_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/reports/test_golden.py -k sqlite
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import Engine

from cadence.config import parse_config
from cadence.jobs.report_all import publish_all
from cadence.store.database import make_engine
from pipeline.builders import AS_OF
from reports import golden_org

GOLDEN = Path(__file__).parent / "golden"
SCHEMAS = Path(__file__).parents[2] / "src" / "cadence" / "reports" / "schema"
REGENERATE = os.environ.get("CADENCE_REGENERATE_GOLDEN") == "1"


def _publish(engine: Engine, out_dir: Path) -> Path:
    golden_org.build(engine)
    summary, refused = publish_all(
        engine,
        parse_config({}),
        as_of=AS_OF,
        window_weeks=None,
        formats=["md", "html", "json", "csv"],
        out_dir=out_dir,
    )
    assert refused == {}
    assert summary.folder == out_dir / "2026-W48"
    return summary.folder


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Path]:
    """The golden org's reports, made once (on SQLite) for the checks that only read them."""
    tmp = tmp_path_factory.mktemp("golden")
    shutil.copy(sqlite_template, tmp / "cadence.db")
    engine = make_engine(f"sqlite:///{tmp / 'cadence.db'}")
    yield _publish(engine, tmp / "reports")
    engine.dispose()


def test_report_all_matches_the_golden_files(engine: Engine, tmp_path: Path) -> None:
    written = _publish(engine, tmp_path / "reports")
    produced = {p.name: p.read_text(encoding="utf-8") for p in sorted(written.iterdir())}
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.iterdir():
            old.unlink()
        for name, text in produced.items():
            (GOLDEN / name).write_text(text, encoding="utf-8", newline="")
    expected = {p.name: p.read_text(encoding="utf-8") for p in sorted(GOLDEN.iterdir())}
    assert sorted(produced) == sorted(expected)
    for name, text in produced.items():
        assert text == expected[name], f"{name} differs from tests/reports/golden/{name}"


def test_json_reports_follow_the_schema(written: Path) -> None:
    kinds = {}
    for path in sorted(written.glob("*.json")):
        view = json.loads(path.read_text())
        schema = json.loads((SCHEMAS / f"{view['kind']}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker()
        )
        validator.validate(view)
        kinds[path.name] = view["kind"]
    assert sorted(kinds.values()) == ["director"] * 2 + ["manager"] * 4


def test_manager_reports_name_no_one_outside_their_reports(written: Path) -> None:
    everyone = {email: name for email, name, _ in golden_org.PEOPLE}
    text = {fmt: (written / f"manager-ann@acme.test.{fmt}").read_text() for fmt in ("md", "csv")}
    text["json"] = (written / "manager-ann@acme.test.json").read_text()
    allowed = golden_org.REPORTS_OF_ANN | {golden_org.ANN, golden_org.LEE}
    for email, name in everyone.items():
        if email in allowed:
            continue
        for fmt, body in text.items():
            assert email not in body and name not in body, (fmt, email)
    # And Hal's report carries none of Ann's people.
    hal = (written / "manager-hal@acme.test.md").read_text()
    for email in golden_org.REPORTS_OF_ANN:
        assert email not in hal and everyone[email] not in hal


def test_director_reports_carry_no_report_figures(written: Path) -> None:
    managers = {golden_org.DANA, golden_org.ANN, golden_org.HAL, golden_org.BOB}
    for path in written.glob("director-*"):
        body = path.read_text()
        for email, name, _ in golden_org.PEOPLE:
            if email in managers:
                continue
            assert email not in body, (path.name, email)
            if not name.startswith(("<", "=")):  # escaped forms are checked in test_render_safety
                assert name not in body, (path.name, name)
    dana = json.loads((written / "director-dana@acme.test.json").read_text())
    # No per-pair field anywhere: only the org's, sub-orgs' and managers' pooled figures.
    flat = json.dumps(dana)
    for pair_field in ("consecutive_missed", "days_since_last_held", "timeline", "reasons"):
        assert pair_field not in flat
    shown = {m["manager"]["email"]: m["suppressed"] for m in dana["managers"]}
    assert shown == {
        golden_org.DANA: True,
        golden_org.ANN: False,
        golden_org.BOB: True,
        golden_org.HAL: True,
    }


def test_the_docs_carry_the_same_schemas() -> None:
    docs = Path(__file__).parents[2] / "docs" / "schema"
    for kind in ("manager", "director"):
        name = f"{kind}.schema.json"
        assert (docs / name).read_text() == (SCHEMAS / name).read_text(), name
