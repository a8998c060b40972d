"""app/sim is pure: standard library and pydantic only, no I/O, no clock, no global randomness."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

SIM = Path(__file__).resolve().parents[2] / "app" / "sim"
FORBIDDEN = {"time", "datetime", "uuid", "os", "io", "pathlib", "socket", "threading", "asyncio", "secrets",
             "subprocess", "shutil", "tempfile", "logging", "sqlite3", "urllib", "http"}  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_engine_imports_only_the_standard_library_pydantic_and_itself():
    for path in SIM.glob("*.py"):
        for module in imported_modules(path):
            top = module.split(".")[0]
            allowed = top in sys.stdlib_module_names or top == "pydantic" or module.startswith("app.sim")
            assert allowed, f"{path.name} imports {module}"
            assert top not in FORBIDDEN, (
                f"{path.name} imports {module}, which is I/O, a clock or ambient state"
            )


def test_randomness_only_comes_from_a_seeded_generator():
    for path in SIM.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for line in source.splitlines():
            if "random." in line and "import" not in line:
                assert "random.Random(" in line, f"{path.name}: global randomness in: {line.strip()}"


def test_only_the_schedulers_import_random():
    """A choice the engine makes must be an action in the schedule, never a draw: only the schedulers, which
    pick among enabled actions, may use a (seeded) generator."""
    for path in SIM.glob("*.py"):
        if path.name != "schedulers.py":
            assert "random" not in imported_modules(path), f"{path.name} imports random"


def _public_definitions(body: list[ast.stmt], prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """Every public class, function and method, by dotted name (methods of private classes are private)."""
    for node in body:
        if isinstance(
            node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and not node.name.startswith("_"):
            yield f"{prefix}{node.name}", node
            if isinstance(node, ast.ClassDef):
                yield from _public_definitions(node.body, f"{prefix}{node.name}.")


def test_every_public_name_of_the_engine_has_a_docstring_and_no_chapter_grows_too_long() -> None:
    """Issue 8's textbook: each public name says what rule it models, no class runs over about 350 lines and no
    function over about 80, so that each chapter reads top to bottom."""
    undocumented, too_long = [], []
    for path in sorted(SIM.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        undocumented += [
            f"{path.name}: {name}"
            for name, node in _public_definitions(tree.body)
            if ast.get_docstring(node) is None  # type: ignore[arg-type]
        ]
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                limit = 350 if isinstance(node, ast.ClassDef) else 80
                if lines > limit:
                    too_long.append(f"{path.name}: {node.name} has {lines} lines")
    assert not undocumented, undocumented
    assert not too_long, too_long
