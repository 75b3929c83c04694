"""Rooms stay small: no module of the package over MAX_LINES lines, no function over MAX_FUNCTION_LINES."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gradeapp"
MAX_LINES = 500
MAX_FUNCTION_LINES = 60

# Modules and functions still over the limits, each with the reason; the list is meant to be empty.
# At the end of issue 23 the lead merges the other engineers' splits and strikes their lines off.
ALLOWED_MODULES: dict[str, str] = {
    "gradeapp/core/agreement.py": "issue 20 splits it (2x2 statistics, alpha, bootstrap, self-consistency)",
    "gradeapp/core/calibration.py": "issue 20 splits it (array estimators, per-cell calibration, planner)",
    "gradeapp/io/report.py": "issue 20 splits it (figures shared with io/paper.py)",
    "gradeapp/services/audit.py": "issue 20 splits it (loading, the packed judge-run cache, drawing)",
    "gradeapp/ui/main_window.py": "the desk engineer splits it (controller, file actions, window)",
    "gradeapp/ui/stats_view.py": "502 lines: two over; the desk's files are being reworked this session",
}
ALLOWED_FUNCTIONS: dict[str, str] = {
    "gradeapp/core/agreement.py:human_human": "issue 20 (core/agreement.py)",
    "gradeapp/core/agreement.py:judge_human_pairs": "issue 20 (core/agreement.py)",
    "gradeapp/core/calibration.py:plan_audit": "issue 20 (core/calibration.py)",
    "gradeapp/core/judge_compare.py:compare_judges": "issue 20 dedupes its McNemar; split with it",
    "gradeapp/services/audit.py:load_audit_data": "issue 20 (services/audit.py)",
    "gradeapp/services/audit.py:plan_draw": "issue 20 (services/audit.py)",
    "gradeapp/services/audit.py:draw_audit": "issue 20 (services/audit.py); 65 lines since the grounding design",
}


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
