"""Rooms stay small: no module of the package over MAX_LINES lines, no function over MAX_FUNCTION_LINES."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gradeapp"
MAX_LINES = 500
MAX_FUNCTION_LINES = 60

# Modules and functions allowed over the limits, each with its reason: empty, and meant to stay so.
ALLOWED_MODULES: dict[str, str] = {}
ALLOWED_FUNCTIONS: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def long_modules() -> dict[str, int]:
    """Return module -> lines for every module over MAX_LINES."""
    sizes = {_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    return {name: n for name, n in sizes.items() if n > MAX_LINES}


def long_functions() -> dict[str, int]:
    """Return 'module:function' -> lines (decorators and docstring included) for every function over the limit."""
    found = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = node.end_lineno - first + 1
                if lines > MAX_FUNCTION_LINES:
                    found[f"{_name(path)}:{node.name}"] = lines
    return found


def test_no_module_is_over_500_lines():
    assert {m: n for m, n in long_modules().items() if m not in ALLOWED_MODULES} == {}
    assert sorted(set(ALLOWED_MODULES) - set(long_modules())) == []  # a module split is struck off the list


def test_no_function_is_over_60_lines():
    assert {f: n for f, n in long_functions().items() if f not in ALLOWED_FUNCTIONS} == {}
    assert sorted(set(ALLOWED_FUNCTIONS) - set(long_functions())) == []


def test_the_checks_find_a_long_module_and_a_long_function(tmp_path, monkeypatch):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "gradeapp").mkdir()
    (tmp_path / "gradeapp" / "big.py").write_text("def f():\n" + body + "\n" + "\n" * MAX_LINES)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "gradeapp")
    assert long_modules() == {"gradeapp/big.py": MAX_LINES + MAX_FUNCTION_LINES + 1}
    assert long_functions() == {"gradeapp/big.py:f": MAX_FUNCTION_LINES + 1}
