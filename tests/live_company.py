"""A small synthetic company served by both stand-ins, with a config and a migrated database,
for tests that run cadence's commands as cron would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from cadence.config import load_config, resolve_database_url
from cadence.orgchart import parse_csv
from cadence.sandbox.company import Company, build_company
from cadence.sandbox.demo import GOOGLE, MICROSOFT, SECRET_ENV, Served, serve, write_people
from cadence.sandbox.world import World
from cadence.store.database import make_engine, upgrade
from cadence.store.people import replace_chart

CADENCE = [sys.executable, "-c", "from cadence.cli import main; main()"]
L = TypeVar("L", bound="Live")


def cron_env(config_path: Path, database_url: str) -> dict[str, str]:
    """The environment of a cron job: none of the developer's CADENCE_* settings, the config
    and database named, and the Graph app's secret when this process holds it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    env["CADENCE_CONFIG"] = str(config_path)
    env["CADENCE_DATABASE_URL"] = database_url
    if SECRET_ENV in os.environ:
        env[SECRET_ENV] = os.environ[SECRET_ENV]
    return env


@dataclass
class Live:
    served: Served
    company: Company
    folder: Path
    database_url: str
    world: World

    def cadence(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The command as cron runs it: another process, the config from the environment."""
        return subprocess.run(
            [*CADENCE, *args],
            cwd=self.folder,
            env=cron_env(self.served.config_path, self.database_url),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def start(
    folder: Path,
    database_url: str,
    latency: float = 0.0,
    cls: type[L] = Live,  # type: ignore[assignment]
) -> Iterator[L]:
    """The company served and loaded; ``cls`` is Live or a test's subclass of it."""
    world = World()
    company = build_company(world, size=24, seed=5, sources=(GOOGLE, MICROSOFT))
    people = write_people(folder / "people.csv", company)
    with serve(world, folder, latency=latency) as served:
        config = load_config(served.config_path, database_url=database_url)
        engine = make_engine(resolve_database_url(config))
        upgrade(engine)
        replace_chart(engine, parse_csv(people, sources=config.sources))
        engine.dispose()
        yield cls(served, company, folder, database_url, world)


def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder/disk`` while the fixture lasts: a real full disk,
    remountable read-only (needs root; the test skips where it cannot mount)."""
    mount = folder / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)
