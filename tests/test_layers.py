"""The core apart from the tools: it imports none of their dependencies, and the tools import in layers."""

import ast
import subprocess
import sys

from conftest import ROOT, cli_env

PACKAGE = ROOT / "src" / "simple_dqn"
TOOLS_DEPENDENCIES = ["matplotlib", "pygame", "captum", "rliable", "scipy", "imageio", "ray"]

BLOCKER = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {TOOLS_DEPENDENCIES!r}:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
from simple_dqn.main import main
sys.exit(main(sys.argv[1:]))
"""


def imported_modules(path):
    """The simple_dqn modules a file imports (at any depth of the file)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("simple_dqn"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("simple_dqn"))
    return names


def test_a_run_trains_tests_and_checkpoints_without_the_tools_dependencies(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKER, "catch", "--random_steps", "200", "--train_steps", "300", "--test_steps",
         "100", "--epochs", "1", "--replay_size", "2000", "--screen_width", "36", "--screen_height", "36",
         "--checkpoint", "--save_weights_prefix", str(tmp_path / "catch"), "--csv_file", str(tmp_path / "c.csv"),
         "--backend", "cpu"], capture_output=True, text=True, env=cli_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "catch_1.safetensors").exists() and (tmp_path / "catch_1.checkpoint.h5").exists()


def test_the_core_never_imports_the_tools():
    for path in PACKAGE.glob("*.py"):
        assert not any(m.startswith("simple_dqn.tools") for m in imported_modules(path)), path.name


def test_the_tools_import_in_layers_without_a_circle():
    # statistics.py reads results CSVs, aggregate.py computes over runs, plot.py draws.
    assert "simple_dqn.tools.plot" not in imported_modules(PACKAGE / "tools" / "aggregate.py")
    assert not any(m.startswith("simple_dqn.tools") for m in imported_modules(PACKAGE / "statistics.py"))
