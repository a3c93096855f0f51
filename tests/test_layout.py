"""The package's shape: data flows checkpoint -> generator -> engine -> editor -> worker -> GUI / CLI.

Guards against the import tangles the editor-core redesign removed: nothing imports the
CLI, the engine and the editor know nothing of the GUI or the demo package, and no class
grows into a god object again.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "draggan"
MAX_CLASS_LINES = 300  # "no class in the package over about 300 lines" (issue 9)


def imports_of(path: Path) -> set[str]:
    """Absolute module names imported by a file (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text())
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = pkg.split(".")[:len(pkg.split(".")) - node.level + 1] if node.level else []
            mod = ".".join([*base, node.module] if node.module else base)
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_imports_the_cli(path):
    if path.name == "cli.py" and path.parent == PACKAGE:
        return
    assert not any(m == "draggan.cli" or m.startswith("draggan.cli.") for m in imports_of(path))


@pytest.mark.parametrize("layer", ["engine", "editor.py", "worker.py", "commands.py", "points.py", "session_file.py"])
def test_lower_layers_do_not_import_the_gui_or_the_demo(layer):
    paths = list((PACKAGE / layer).rglob("*.py")) if (PACKAGE / layer).is_dir() else [PACKAGE / layer]
    for path in paths:
        bad = {m for m in imports_of(path) if m.startswith(("draggan.gui", "draggan.demo", "draggan.cli"))}
        assert not bad, f"{path.name} imports {bad}"


def test_stylegan2_imports_nothing_from_draggan():
    for path in (ROOT / "stylegan2").rglob("*.py"):
        assert not any(m.startswith("draggan") for m in imports_of(path)), path


def test_the_editor_does_not_load_the_demo_package_at_start_up():
    code = ("import sys, draggan.editor, draggan.worker, draggan.headless, draggan.gui.app; "
            "print(sorted(m for m in sys.modules if m.startswith('draggan.demo')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_class_is_a_god_object(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            assert node.end_lineno - node.lineno + 1 <= MAX_CLASS_LINES, f"{node.name} has grown too large"
