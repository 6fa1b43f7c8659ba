"""The import layers are import-linter contracts (pyproject.toml, `lint-imports` in `make test`).
What they cannot say: the benchmarks, scripts outside any package, never import the CLI either,
and the contracts themselves are in force (a broken configuration would pass everything)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
    return names


def test_no_benchmark_imports_the_cli() -> None:
    users = [p.name for p in sorted((ROOT / "benchmarks").glob("*.py"))
             if any(n == "cli" or n.startswith("cli.") for n in imported(p))]  # fmt: skip
    assert users == []


LINT = Path(sys.executable).with_name("lint-imports")


@pytest.mark.skipif(not LINT.exists() and not shutil.which("lint-imports"), reason="import-linter not installed")
def test_the_contracts_catch_a_core_module_importing_index(tmp_path: Path) -> None:
    """A copy of the tree with one forbidden import breaks exactly the core's contract."""
    for name in ("tracer", "index"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.onnx"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = str(LINT if LINT.exists() else shutil.which("lint-imports"))
    kept = subprocess.run([lint, "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": ""})  # fmt: skip
    assert kept.returncode == 0, kept.stdout[-2000:]
    match = tmp_path / "tracer" / "tracing" / "_match.py"
    match.write_text(match.read_text(encoding="utf-8") + "\n\ndef _late() -> None:\n    import index  # noqa\n",
                     encoding="utf-8")  # fmt: skip
    broken = subprocess.run([lint, "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(tmp_path), "PATH": ""})  # fmt: skip
    assert broken.returncode != 0
    assert "tracer's core imports neither index nor anything above it BROKEN" in broken.stdout
