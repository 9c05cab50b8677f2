"""The CLI edge: exit codes, one-line errors, help with examples, and every command documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from cadence.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The installed entry point, as cron would run it."""
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", "from cadence.cli import main; main()", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_writes_config_and_schema_and_keeps_existing(tmp_path: Path) -> None:
    first = run("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    config = tmp_path / "cadence.toml"
    assert config.is_file() and (tmp_path / "cadence.db").is_file()
    assert "created the schema" in first.stderr
    config.write_text(config.read_text() + "\n# mine\n")
    again = run("init", cwd=tmp_path)
    assert again.returncode == 0
    assert "# mine" in config.read_text()
    assert "up to date" in again.stderr


def test_commands_refuse_a_database_without_schema(tmp_path: Path) -> None:
    result = run("status", cwd=tmp_path)
    assert result.returncode == 1
    assert "run `cadence init`" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_config_is_exit_2_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "cadence.toml").write_text("[report]\nwindow_weeks = 'x'\n")
    result = run("status", cwd=tmp_path)
    assert result.returncode == 2
    assert "cadence.toml" in result.stderr and "window_weeks" in result.stderr
    assert "Traceback" not in result.stderr
    verbose = run("status", "-v", cwd=tmp_path)
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr


def test_global_options_work_before_and_after_the_command(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere.db"
    url = f"sqlite:///{db}"
    assert run("--database-url", url, "init", cwd=tmp_path).returncode == 0
    assert db.is_file()
    before = run("--database-url", url, "status", cwd=tmp_path)
    after = run("status", "--database-url", url, cwd=tmp_path)
    assert before.returncode == after.returncode == 0
    env = run("status", cwd=tmp_path, env={"CADENCE_DATABASE_URL": url})
    assert env.returncode == 0


def test_usage_error_is_exit_2(tmp_path: Path) -> None:
    result = run("no-such-command", cwd=tmp_path)
    assert result.returncode == 2


def test_version(tmp_path: Path) -> None:
    from cadence import __version__

    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0 and __version__ in result.stdout


def _commands(group: click.Group, prefix: str = "cadence") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_commands(command, full))
        else:
            found.append((full, command))
    return found


@pytest.mark.parametrize(("name", "command"), _commands(cli))
def test_every_command_is_documented_with_examples(name: str, command: click.Command) -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"`{re.escape(name)}\b", readme), f"{name} is not in README.md"
    help_text = command.help or ""
    assert "Example" in help_text, f"{name} --help has no examples"
    options = {opt for p in command.params for opt in getattr(p, "opts", [])}
    assert {"--config", "--database-url", "--verbose", "--quiet"} <= options, name


def test_init_writes_the_config_it_is_pointed_at(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    named = tmp_path / "etc" / "cadence.toml"
    result = run("init", "--config", str(named), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert named.is_file() and not (tmp_path / "cadence.toml").exists()
    # Its relative database path is relative to the config's folder.
    assert (tmp_path / "etc" / "cadence.db").is_file()
    from_env = tmp_path / "etc" / "env.toml"
    assert run("init", cwd=tmp_path, env={"CADENCE_CONFIG": str(from_env)}).returncode == 0
    assert from_env.is_file()
    missing_folder = run("init", "--config", str(tmp_path / "nope" / "c.toml"), cwd=tmp_path)
    assert missing_folder.returncode == 2 and "does not exist" in missing_folder.stderr


def test_a_mistyped_sqlite_path_leaves_no_empty_database(tmp_path: Path) -> None:
    typo = tmp_path / "cadnece.db"
    result = run("status", "--database-url", f"sqlite:///{typo}", cwd=tmp_path)
    assert result.returncode == 1
    assert f"there is no database at {typo}: run `cadence init`" in result.stderr
    assert not typo.exists()
