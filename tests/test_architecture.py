"""The import rules of cadence's one-way house, read from the source with ``ast``.

Every module under ``src/cadence`` belongs to one layer, and each layer may import only the layers
below it. The imports are parsed, not executed: every ``import`` and ``from ... import`` counts,
those inside functions, classes and ``if TYPE_CHECKING:`` blocks included, relative ones resolved
against the module's package, and ``importlib.import_module("...")`` with a literal name too.

    core        cadence (the package), errors, normalised, config, logs, orgchart, frames, counts,
                weeks
    connectors  cadence.connectors.*   core, connectors; never sqlalchemy
    store       cadence.store.*        core, store
    pipeline    cadence.pipeline.*     core (but not cadence.config), pipeline; never sqlalchemy
    reports     cadence.reports.*      core, reports (plain dicts in): never sqlalchemy
    jobs        cadence.jobs.*         anything but web, cli and sandbox
    web         cadence.web.*          anything but cli and sandbox (beside cli, on top of jobs)
    cli         cadence.cli.*          anything (the top)
    sandbox     cadence.sandbox.*      anything but cli; only cli and sandbox import it

A failure lists every offending import as ``module line N: import as written (-> what it
resolves to, its layer)``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "cadence"

CORE = frozenset(
    {
        "cadence",
        "cadence.errors",
        "cadence.normalised",
        "cadence.config",
        "cadence.logs",
        "cadence.orgchart",
        "cadence.frames",
        "cadence.counts",
        "cadence.weeks",
    }
)
# Every layer but core is one subpackage of cadence, named like the layer.
PACKAGE_LAYERS = ("connectors", "store", "pipeline", "reports", "jobs", "web", "cli", "sandbox")
LAYERS = ("core", *PACKAGE_LAYERS)


def layer_of(module: str) -> str | None:
    """The layer of a cadence module (``None``: in no layer); ``None`` also for other packages."""
    for core in CORE - {"cadence"}:
        if module == core or module.startswith(core + "."):
            return "core"
    if module == "cadence":
        return "core"
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "cadence" and parts[1] in PACKAGE_LAYERS:
        return parts[1]
    return None


def is_cadence(module: str) -> bool:
    return module == "cadence" or module.startswith("cadence.")


def within(module: str, package: str) -> bool:
    """Whether ``module`` is ``package`` or inside it."""
    return module == package or module.startswith(package + ".")


# --- reading the imports -------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    text: str  # the import as written
    target: str  # the module it resolves to

    def __str__(self) -> str:
        layer = layer_of(self.target) if is_cadence(self.target) else None
        where = (
            f", layer {layer}" if layer else (", in no layer" if is_cadence(self.target) else "")
        )
        return f"{self.module} line {self.line}: {self.text} (-> {self.target}{where})"


def module_name(path: Path, root: Path = PACKAGE_DIR) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def discover(root: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every module under ``root``, by dotted name."""
    return {
        module_name(path, root): path
        for path in sorted(root.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    package = module if is_package else module.rpartition(".")[0]
    parts = package.split(".")
    if level - 1 > len(parts) - 1:
        raise ValueError(f"{module}: relative import beyond the top-level package")
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{name}" if name else base


def imports_of(
    module: str, source: str, *, is_package: bool = False, known: Iterable[str] = ()
) -> list[Import]:
    """Every import in ``source`` as if it were ``module``. ``from X import y`` resolves to the
    module ``X.y`` when that is one of ``known`` modules, else to ``X``."""
    known = set(known)
    tree = ast.parse(source)
    lines = re.split(r"\r\n|\r|\n", source)  # the line breaks ast counts, no others
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            text = _as_written(lines, node)
            found.extend(Import(module, node.lineno, text, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            text = _as_written(lines, node)
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            targets = []
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                targets.append(candidate if candidate in known else base)
            for target in dict.fromkeys(targets):
                found.append(Import(module, node.lineno, text, target))
        elif (
            isinstance(node, ast.Call)
            and _is_import_call(node.func)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            text = _as_written(lines, node)
            found.append(Import(module, node.lineno, text, node.args[0].value))
    return sorted(found, key=lambda i: (i.line, i.target))


def _as_written(lines: list[str], node: ast.stmt | ast.expr) -> str:
    """The node's source on one line (a multi-line import joined, its spaces collapsed)."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    part = [line.encode() for line in lines[first : last + 1]]  # offsets count UTF-8 bytes
    part[-1] = part[-1][: node.end_col_offset]
    part[0] = part[0][node.col_offset :]
    return " ".join(b" ".join(part).decode().split())


def _is_import_call(func: ast.expr) -> bool:
    """``importlib.import_module(...)``, ``import_module(...)`` or ``__import__(...)``."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}


MODULES = discover()


def all_imports() -> list[Import]:
    out = []
    for module, path in MODULES.items():
        out += imports_of(
            module,
            path.read_text(encoding="utf-8"),
            is_package=path.name == "__init__.py",
            known=MODULES,
        )
    return out


IMPORTS = all_imports()


# --- the rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Imports made by modules of ``layer`` (or, when ``layer`` is None, by any module outside
    ``exempt``) that break the rule: a cadence import outside ``allowed`` layers (None: any
    layer), or an import of one of ``forbidden`` (packages, cadence or not)."""

    name: str
    says: str
    layer: str | None
    allowed: frozenset[str] | None = None
    forbidden: tuple[str, ...] = ()
    exempt: frozenset[str] = frozenset()

    def applies_to(self, module: str) -> bool:
        layer = layer_of(module)
        if self.layer is None:
            return layer not in self.exempt
        return layer == self.layer

    def broken_by(self, imp: Import) -> bool:
        if not self.applies_to(imp.module):
            return False
        if any(within(imp.target, bad) for bad in self.forbidden):
            return True
        if self.allowed is not None and is_cadence(imp.target):
            return layer_of(imp.target) not in self.allowed
        return False

    def violations(self, imports: Iterable[Import]) -> list[Import]:
        return [imp for imp in imports if self.broken_by(imp)]


def only(*layers: str) -> frozenset[str]:
    return frozenset(layers)


def everything_but(*layers: str) -> frozenset[str]:
    return frozenset(LAYERS) - set(layers)


RULES = [
    Rule("core", "core imports no other cadence layer", "core", allowed=only("core")),
    Rule(
        "connectors",
        "connectors import only core and connectors",
        "connectors",
        allowed=only("core", "connectors"),
    ),
    Rule(
        "connectors-no-sqlalchemy",
        "connectors never import sqlalchemy",
        "connectors",
        forbidden=("sqlalchemy",),
    ),
    Rule("store", "store imports only core and store", "store", allowed=only("core", "store")),
    Rule(
        "pipeline",
        "pipeline imports only core (but nothing of cadence.config) and pipeline",
        "pipeline",
        allowed=only("core", "pipeline"),
        forbidden=("cadence.config", "cadence.store"),
    ),
    Rule(
        "pipeline-no-sqlalchemy",
        "pipeline never imports sqlalchemy",
        "pipeline",
        forbidden=("sqlalchemy",),
    ),
    Rule(
        "reports",
        "reports import only core and reports (they render plain dicts: no pipeline, no store)",
        "reports",
        allowed=only("core", "reports"),
    ),
    Rule(
        "reports-no-sqlalchemy",
        "reports never import sqlalchemy",
        "reports",
        forbidden=("sqlalchemy",),
    ),
    Rule(
        "jobs",
        "jobs import anything but web, cli and sandbox",
        "jobs",
        allowed=everything_but("web", "cli", "sandbox"),
    ),
    Rule(
        "web",
        "web imports anything but cli and sandbox",
        "web",
        allowed=everything_but("cli", "sandbox"),
    ),
    Rule("cli", "cli imports anything (it is the top)", "cli", allowed=None),
    Rule("sandbox", "sandbox imports anything but cli", "sandbox", allowed=everything_but("cli")),
    Rule(
        "sandbox-importers",
        "nothing but cadence.cli and cadence.sandbox imports cadence.sandbox",
        None,
        forbidden=("cadence.sandbox",),
        exempt=only("cli", "sandbox"),
    ),
]


def report(rule: Rule, bad: list[Import]) -> str:
    lines = "\n".join(f"  {imp}" for imp in bad)
    return f"{rule.says}; {len(bad)} import(s) break it:\n{lines}"


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_import_rule(rule: Rule) -> None:
    bad = rule.violations(IMPORTS)
    assert not bad, report(rule, bad)


def test_every_module_is_in_a_layer() -> None:
    """A new module (a top-level one above all) must be placed in a layer, so that the rules
    check it; every layer must have its rule."""
    unplaced = [
        f"  {module} ({path.relative_to(PACKAGE_DIR.parent)})"
        for module, path in MODULES.items()
        if layer_of(module) is None
    ]
    assert not unplaced, (
        "modules in no layer (add them to CORE or to a layer's package):\n" + "\n".join(unplaced)
    )
    assert {rule.layer for rule in RULES} >= set(LAYERS)


def test_the_layer_table_names_modules_that_exist() -> None:
    """A core module renamed or removed must leave the table too, so it cannot cover a new one."""
    missing = sorted(m for m in CORE if m not in MODULES)
    assert not missing, f"CORE names modules that do not exist: {missing}"
    packages = sorted(p for p in PACKAGE_LAYERS if not (PACKAGE_DIR / p).is_dir())
    assert not packages, f"layers without a package: {packages}"


# --- the checker itself ------------------------------------------------------------------


def test_the_checker_catches_a_violation() -> None:
    rule = next(r for r in RULES if r.name == "connectors")
    found = imports_of(
        "cadence.connectors.x", "from cadence.store import models\n", known={"cadence.store.models"}
    )
    bad = rule.violations(found)
    assert [(i.module, i.line, i.target) for i in bad] == [
        ("cadence.connectors.x", 1, "cadence.store.models")
    ]
    assert "cadence.connectors.x line 1: from cadence.store import models" in report(rule, bad)
    assert "layer store" in report(rule, bad)


def test_the_checker_resolves_relative_and_nested_imports() -> None:
    source = (
        "import os\n"
        "from . import retry\n"
        "def f():\n"
        "    from ..store.models import Event\n"
        "    import sqlalchemy.orm as orm\n"
        "    return importlib.import_module('cadence.sandbox.world')\n"
    )
    found = imports_of("cadence.connectors.x", source, known={"cadence.connectors.retry"})
    assert [(i.line, i.target) for i in found] == [
        (1, "os"),
        (2, "cadence.connectors.retry"),
        (4, "cadence.store.models"),
        (5, "sqlalchemy.orm"),
        (6, "cadence.sandbox.world"),
    ]
    broken = {rule.name for rule in RULES if rule.violations(found)}
    assert broken == {"connectors", "connectors-no-sqlalchemy", "sandbox-importers"}
    # In a package's __init__, "." is the package itself.
    init = imports_of("cadence.store", "from .models import Event\n", is_package=True)
    assert [i.target for i in init] == ["cadence.store.models"]


def test_the_checker_allows_what_the_rules_allow() -> None:
    source = "from cadence.errors import UsageError\nfrom cadence import normalised\n"
    found = imports_of("cadence.pipeline.x", source, known={"cadence.normalised"})
    assert [i.target for i in found] == ["cadence.errors", "cadence.normalised"]
    assert not any(rule.violations(found) for rule in RULES)
    config = imports_of("cadence.pipeline.x", "import cadence.config\n")
    assert [r.name for r in RULES if r.violations(config)] == ["pipeline"]
