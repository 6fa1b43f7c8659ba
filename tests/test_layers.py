"""The import layers hold: tracer's core <- index <- tracer's top (library entry point, service,
evaluation) <- cli. Every import counts, those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

TOP = ("tracer._api", "tracer.evaluation", "tracer.service")
"""Modules that may use both halves: they sit above ``index``."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, ast.AST, bool]]:
    """(imported module, node, inside a function) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    # imports in functions and under `if TYPE_CHECKING:` run later or never: not at import time
    deferred = [
        f
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef)
        or (isinstance(f, ast.If) and isinstance(f.test, ast.Name) and f.test.id == "TYPE_CHECKING")
    ]
    functions = {id(n) for f in deferred for n in ast.walk(f)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node, id(node) in functions) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
                # `from . import _embed` names a module
                out.extend((f"{target}.{a.name}" if not node.module else target, node, id(node) in functions)
                           for a in node.names)  # fmt: skip
            else:  # `from tracer import _api` names a module; `from tracer import Tracer` counts as `tracer`
                out.append((node.module or "", node, id(node) in functions))
                out.extend((f"{node.module}.{a.name}", node, id(node) in functions) for a in node.names
                           if a.name.startswith("_") and not a.name.startswith("__"))  # fmt: skip
    return out


def ours(target: str) -> str | None:
    top = target.split(".")[0]
    return target if top in ("tracer", "index", "cli") else None


def layer(module: str) -> int:
    if module == "cli":
        return 3
    if module.startswith(TOP):
        return 2
    if module.startswith("index"):
        return 1
    return 0


def sources() -> list[Path]:
    return [*sorted((ROOT / "tracer").rglob("*.py")), *sorted((ROOT / "index").glob("*.py")), ROOT / "cli.py"]


def test_no_module_imports_a_layer_above_its_own() -> None:
    broken = []
    for path in sources():
        name = module_name(path)
        for target, node, in_function in imports(path):
            target = ours(target) or ""
            if not target or target == name:
                continue
            if name == "tracer" and in_function:
                continue  # tracer/__init__'s lazy __getattr__ (and its type hints): `tracer.Tracer` loads on first use
            if layer(target) > layer(name):
                broken.append(f"{path.relative_to(ROOT)}:{node.lineno} ({name}, layer {layer(name)}) imports "
                              f"{target} (layer {layer(target)})")  # fmt: skip
    assert broken == []


def test_nothing_but_the_entry_point_imports_cli() -> None:
    users = [
        str(p.relative_to(ROOT))
        for p in [*sources(), *sorted((ROOT / "benchmarks").glob("*.py"))]
        if p.name != "cli.py" and any(t == "cli" or t.startswith("cli.") for t, _, _ in imports(p))
    ]
    assert users == []


def test_the_rule_is_checked_on_real_imports() -> None:
    """The checker sees relative, absolute and in-function imports (a broken checker passes everything)."""
    found = {(t, f) for t, _, f in imports(ROOT / "tracer" / "_api.py")}
    assert ("tracer.tracing._trace", False) in found and ("index", True) in found
    assert ("tracer.model._embed", False) in found  # `from . import _embed`
    assert layer("tracer.tracing._trace") < layer("index._store") < layer("tracer._api") < layer("cli")
