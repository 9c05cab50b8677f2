"""Configuration: lookup order, defaults, secrets, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadence.config import (
    TEMPLATE,
    GoogleSource,
    OutlookSource,
    find_config_path,
    load_config,
    parse_config,
    resolve_database_url,
)
from cadence.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CADENCE_CONFIG", raising=False)
    monkeypatch.delenv("CADENCE_DATABASE_URL", raising=False)
    config = load_config()
    assert config.path is None
    assert config.report.window_weeks == 12
    assert config.report.trend_weeks == 26
    assert config.report.min_group_size == 5
    assert config.health.late_cancel_hours == 24
    assert config.sync.lookback_days == 180
    assert config.sync.horizon_days == 35
    assert config.org.timezone == "UTC"
    assert resolve_database_url(config) == f"sqlite:///{tmp_path / 'cadence.db'}"


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = write(tmp_path / "cadence.toml", "[report]\nwindow_weeks = 3\n")
    env = write(tmp_path / "env.toml", "[report]\nwindow_weeks = 4\n")
    explicit = write(tmp_path / "explicit.toml", "[report]\nwindow_weeks = 5\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CADENCE_CONFIG", raising=False)
    assert find_config_path() == here.resolve()
    assert load_config().report.window_weeks == 3
    monkeypatch.setenv("CADENCE_CONFIG", str(env))
    assert load_config().report.window_weeks == 4
    assert load_config(explicit).report.window_weeks == 5


def test_database_url_override_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "c.toml", '[database]\nurl = "sqlite:///from-file.db"\n')
    monkeypatch.delenv("CADENCE_DATABASE_URL", raising=False)
    assert resolve_database_url(load_config(cfg)) == f"sqlite:///{tmp_path / 'from-file.db'}"
    monkeypatch.setenv("CADENCE_DATABASE_URL", "postgresql+psycopg://u@h/env")
    assert load_config(cfg).database.url == "postgresql+psycopg://u@h/env"
    assert load_config(cfg, database_url="sqlite:////abs.db").database.url == "sqlite:////abs.db"


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    cfg = write(sub / "c.toml", '[org]\ncsv = "people.csv"\n[report]\nout_dir = "out"\n')
    config = load_config(cfg)
    assert config.resolve(config.org.csv) == sub / "people.csv"
    assert config.resolve(config.report.out_dir) == sub / "out"
    assert config.resolve("/abs/x") == Path("/abs/x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[reprot]\nwindow_weeks = 3\n", "unknown section [reprot]"),
        ("[report]\nwindow_wekes = 3\n", "unknown key 'window_wekes' in [report]"),
        ('[report]\nwindow_weeks = "3"\n', "[report] window_weeks must be a whole number"),
        ("[report]\nwindow_weeks = 0\n", "[report] window_weeks must be at least 1"),
        ("[health]\nlate_cancel_hours = true\n", "[health] late_cancel_hours must be a number"),
        ('[org]\ntimezone = "Mars/Base"\n', "[org] timezone is not a known time zone"),
        ('[report]\nformats = ["md", "pdf"]\n', "[report] formats has unknown formats ['pdf']"),
        ('[pipeline]\nengine = "spark"\n', "[pipeline] engine must be pandas or dask"),
        ('[sync]\nscheduler = "dask-host"\n', "[sync] scheduler must be a Dask scheduler's"),
        ("[sync]\nbatch_mailboxes = 0\n", "[sync] batch_mailboxes must be at least 1"),
        (
            '[sources.g]\nkind = "google"\nservice_account_file = "k"\nrequests_per_minute = -1\n',
            "[sources.g] requests_per_minute must be at least 0",
        ),
        ('[sources.x]\nkind = "exchange"\n', "[sources.x] kind must be one of"),
        ('[sources.x]\nkind = "google"\n', "[sources.x] service_account_file is required"),
        (
            '[sources.m]\nkind = "outlook"\ntenant_id = "t"\nclient_id = "c"\n',
            "[sources.m] client_secret_env or certificate_file",
        ),
        (
            '[sources.g]\nkind = "google"\nservice_account_file = "k"\ncolour = "red"\n',
            "unknown key 'colour' in [sources.g]",
        ),
        ("[report\n", "not valid TOML"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    cfg = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert str(cfg) in str(info.value)
    assert message in str(info.value)


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes('[org]\ntimezone = "Europe/Z\xfcrich"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(cfg)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


def test_sources_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(
        tmp_path / "c.toml",
        "[sources.acme-google]\nkind = 'google'\nservice_account_file = 'sa.json'\n"
        "[sources.acme-m365]\nkind = 'outlook'\ntenant_id = 't'\nclient_id = 'c'\n"
        "client_secret_env = 'ACME_SECRET'\nvalidate_authority = false\n",
    )
    config = load_config(cfg)
    google, outlook = config.sources["acme-google"], config.sources["acme-m365"]
    assert isinstance(google, GoogleSource) and isinstance(outlook, OutlookSource)
    assert outlook.authority_url == "https://login.microsoftonline.com/t"
    assert outlook.validate_authority is False
    monkeypatch.delenv("ACME_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"names \$ACME_SECRET, which is not set"):
        config.secret("sources.acme-m365", "client_secret_env", outlook.client_secret_env)
    monkeypatch.setenv("ACME_SECRET", "s3cret")
    assert config.secret("sources.acme-m365", "client_secret_env", "ACME_SECRET") == "s3cret"


def test_template_parses_to_the_defaults() -> None:
    import tomllib

    config = parse_config(tomllib.loads(TEMPLATE))
    assert config.report.window_weeks == 12
    assert config.sources == {}
