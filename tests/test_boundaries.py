"""The architecture, enforced: layers import only downwards, only gradeapp.ui imports Qt, no cycles."""

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
        if rel.parts[0] in ("ui", "cli"):
            continue  # the command line starts the desk lazily, inside a function
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


def test_opening_a_project_and_an_item_loads_neither_pandas_nor_sqlite_utils(demo_path):
    """Start-up stays fast: the desk's first item needs only sqlite3 (pandas alone takes ~0.8 s)."""
    path = demo_path
    code = (
        "import sys\n"
        "from gradeapp.services import grading\n"
        "from gradeapp.db import open_project\n"
        f"store = open_project({str(path)!r}, create=False)\n"
        "grader = store.grader_id('human', 'ann')\n"
        "gid = store.execute('SELECT MIN(id) FROM generations').fetchone()[0]\n"
        "grading.load_item(store, grader, gid)\n"
        "print(sorted(m for m in ('pandas', 'sqlite_utils') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_import_linter_contracts_hold():
    """The layer, Qt, argparse and purity contracts of pyproject.toml ([tool.importlinter]) are kept."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the components of more than one module (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_module_of_the_package_is_part_of_an_import_cycle():
    import grimp  # import-linter's graph builder

    graph = grimp.build_graph("gradeapp")
    modules = set(graph.modules)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) & modules for m in modules}
    assert _strongly_connected(edges) == []
    # The check itself finds a cycle when there is one.
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_only_the_command_line_imports_argparse():
    offenders = [
        str(path)
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "cli" and "argparse" in _imports(path)
    ]
    assert offenders == []


def test_core_functions_take_no_store():
    """gradeapp.core is pure: a function that reads or writes a project belongs to services/."""
    offenders = []
    for path in (PACKAGE / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = {a.arg for a in node.args.args + node.args.kwonlyargs}
                if names & {"store", "conn"}:
                    offenders.append(f"{path.name}:{node.name}")
    assert offenders == []


def _declared_distributions() -> set[str]:
    import re
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra  # an optional extra (the local model, ...) is imported lazily by its own code
    return {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs}


def test_every_third_party_import_of_the_package_is_a_declared_dependency():
    """A module the package imports comes from the standard library or from a declared distribution."""
    from importlib.metadata import packages_distributions

    providers = packages_distributions()
    declared = _declared_distributions()
    undeclared = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in sorted(_imports(path) - {"gradeapp", "gradeapp.ui"} - set(sys.stdlib_module_names)):
            dists = {d.lower().replace("_", "-") for d in providers.get(name, [])}
            if not dists & declared:
                undeclared.append(f"{path.relative_to(PACKAGE.parent)}: {name} ({', '.join(dists) or '?'})")
    assert undeclared == []
