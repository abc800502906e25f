"""The one-way structure holds (docs/architecture.md, "Layers"): import-linter's
contracts in pyproject.toml pass, they do catch an import against the layers,
every module of apps/ is inside a layer, and no module hides an import of
LeadHub's own code inside a function (which once hid 56 circular imports)."""
from __future__ import annotations

import ast
import os
import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "pyproject.toml")


def _lint() -> int:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return lint_imports(config_filename=CONFIG, no_cache=True, no_logo=True)
    finally:
        os.chdir(cwd)


def _layers() -> list[str]:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layered = next(c for c in contracts if c["type"] == "layers")
    return [module.strip() for layer in layered["layers"] for module in layer.split("|")]


def _modules():
    for path in sorted((ROOT / "apps").rglob("*.py")):
        relative = path.relative_to(ROOT)
        if "migrations" in relative.parts:
            continue
        yield path, ".".join(relative.with_suffix("").parts).removesuffix(".__init__")


def test_it_keeps_the_layer_contracts():
    assert _lint() == 0  # lint-imports prints the broken chain above


def test_it_catches_an_import_against_the_layers():
    probe = ROOT / "apps" / "leads" / "_layer_probe.py"
    probe.write_text("from apps.sync import outbox  # noqa: F401 - leads must not import sync\n")
    try:
        assert _lint() == 1
    finally:
        probe.unlink()


def test_every_module_of_apps_is_in_a_layer():
    layers = _layers()
    outside = [name for _, name in _modules()
               if name not in ("apps", "apps.vendors")
               and not any(name == layer or name.startswith(layer + ".") for layer in layers)]
    assert outside == [], "add these to a layer in pyproject.toml [tool.importlinter]"


# Imports inside a function that are not about app loading, each with its reason.
ALLOWED_INSIDE = {
    ("apps.core.checks", "check_q_broker"): "redis is optional (leadhub[redis]): whether it imports is the check",
    ("apps.sync.ops", "check_broker"): "redis is optional: only a Redis broker needs it",
}


def test_no_module_imports_inside_a_function():
    """Except AppConfig.ready(), where Django forces it (models may be imported
    only once every app is loaded), and ALLOWED_INSIDE."""
    hidden = []
    for path, name in _modules():
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if (function.name == "ready" and path.name == "apps.py") or (name, function.name) in ALLOWED_INSIDE:
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    hidden.append(f"{name}.{function.name}: from {'.' * node.level}{node.module or ''}")
                elif isinstance(node, ast.Import):
                    hidden.append(f"{name}.{function.name}: import {', '.join(a.name for a in node.names)}")
    assert hidden == []
