"""The architecture's one rule, enforced: only gradeapp.ui imports Qt; the core runs headless."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gradeapp"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
            if node.module.startswith("gradeapp.ui"):
                names.add("gradeapp.ui")
    return names


def test_only_the_ui_package_imports_qt():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "ui" in path.relative_to(PACKAGE).parts:
            continue
        found = _imports(path)
        if found & {"PySide6", "PyQt5", "PyQt6", "shiboken6"}:
            offenders.append(str(path))
    assert offenders == []


def test_core_never_imports_the_ui_at_module_level():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if "ui" in rel.parts or rel.name == "cli.py":
            continue  # cli.py starts the desk lazily, inside a function
        if "gradeapp.ui" in _imports(path):
            offenders.append(str(path))
    assert offenders == []


def test_importing_every_core_module_loads_no_qt():
    modules = [
        "gradeapp." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in PACKAGE.rglob("*.py")
        if "ui" not in p.relative_to(PACKAGE).parts and p.name != "__main__.py"
    ]
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_opening_a_project_and_an_item_loads_neither_pandas_nor_sqlite_utils(tmp_path):
    """Start-up stays fast: the desk's first item needs only sqlite3 (pandas alone takes ~0.8 s)."""
    from gradeapp.demo import build_demo

    path = build_demo(tmp_path / "demo.gradeapp")
    code = (
        "import sys\n"
        "from gradeapp import grading\n"
        "from gradeapp.db import open_project\n"
        f"store = open_project({str(path)!r}, create=False)\n"
        "grader = store.grader_id('human', 'ann')\n"
        "gid = store.execute('SELECT MIN(id) FROM generations').fetchone()[0]\n"
        "grading.load_item(store, grader, gid)\n"
        "print(sorted(m for m in ('pandas', 'sqlite_utils') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
