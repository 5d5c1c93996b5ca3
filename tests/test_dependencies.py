"""Layering: `tfmodels` never imports `pipelines` or `scripts` (dependencies flow one way)."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_no_tfmodels_module_imports_pipelines_or_scripts():
    bad = []
    for path in sorted((ROOT / "tfmodels").rglob("*.py")):
        for mod in _imported_modules(path):
            if mod.split(".")[0] in ("pipelines", "scripts"):
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, "\n".join(bad)

