"""The layering of the packages, checked on the real import graph (import-linter's contracts in pyproject.toml).

Dependencies run one way: ty_assets -> ty_resources, ty_web -> ty_resources, ty_cli -> all three; the core
imports neither Dagster nor FastAPI; ty_web never imports ty_assets; ty_testing is never imported by shipped
code; no import cycle between the modules of a package.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ty_resources", "ty_assets", "ty_web", "ty_cli")
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=env)


def test_the_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_violation_breaks_the_contracts(tmp_path):
    """The same contracts on a copy of the packages' shape in which the core imports the graph, and the graph
    and the web app import each other: the check must fail and name the offending imports."""
    files = {
        "ty_resources/__init__.py": "",
        "ty_resources/settings.py": "import ty_assets.definitions\n",
        "ty_assets/__init__.py": "",
        "ty_assets/definitions.py": "import ty_web.app\n",
        "ty_web/__init__.py": "",
        "ty_web/app.py": "import ty_resources.settings\n",
        "ty_cli/__init__.py": "",
        "ty_testing/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(config[config.index("[tool.importlinter]"):])
    result = lint_imports(tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0, result.stdout
    assert "ty_resources.settings -> ty_assets.definitions" in result.stdout
    assert "ty_assets.definitions -> ty_web.app" in result.stdout
    assert "BROKEN" in result.stdout


def test_the_web_app_starts_without_dagster():
    code = textwrap.dedent("""
        import sys
        from ty_resources.settings import Settings
        from ty_web.app import create_app
        create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
        print(sorted({m.split(".")[0] for m in sys.modules} & {"dagster", "dagster_postgres", "ty_assets"}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


# The one exception, and why: a run launcher's health check returns CheckRunHealthResult / WorkerStatus, which
# Dagster exports only from its launcher package, the extension point its docs name for custom run launchers.
PRIVATE_ALLOWED = {"ty_assets/launcher.py: dagster._core.launcher"}


def test_only_public_dagster_imports():
    private = [
        f"{path.relative_to(ROOT)}: {name}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in _imports(path)
        if name.startswith(("dagster._", "dagster_postgres._"))
    ]
    assert sorted(set(private) - PRIVATE_ALLOWED) == []
