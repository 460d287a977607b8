"""The package's house rules: folders that follow the data flow, no import that runs back up, no circle,
a docstring for every folder, and a README module table that names only what exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "wizard/lbwizard"
README = PACKAGE.parents[1] / "README.md"


def declared_chain() -> list[str]:
    """The package docstring's chain: the order data flows through the folders."""
    docstring = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text())) or ""
    line = next(line for line in docstring.splitlines() if line.startswith("Chain: "))
    return [name.strip() for name in line.removeprefix("Chain: ").split("->")]


def declared_imports(folder: str) -> set[str]:
    """What a folder's docstring says it imports (its "Imports:" line): the contract the code is held to."""
    docstring = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text())) or ""
    lines = [line for line in docstring.splitlines() if line.startswith("Imports: ")]
    assert len(lines) == 1, f"{folder}/__init__.py must say what it imports in one 'Imports: ...' line"
    text = lines[0].removeprefix("Imports: ").rstrip(".")
    return set() if text == "nothing of lbwizard's" else {name.strip() for name in text.split(",")}


FOLDERS = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
MAY_IMPORT = {folder: declared_imports(folder) for folder in FOLDERS}
ENTRY_POINTS = {"__init__.py", "cli.py", "launch.py"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every lbwizard module that path imports, at the top or inside a function."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("lbwizard"):
                continue
            for alias in node.names:  # `from . import model` imports a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if module_path(candidate) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lbwizard")}
    return {m for m in found if module_path(m)}


def module_path(name: str) -> Path | None:
    base = PACKAGE.parent / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


MODULES = sorted(PACKAGE.rglob("*.py"))


def folder_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else None


def test_the_top_level_holds_only_the_entry_points():
    assert {p.name for p in PACKAGE.glob("*.py")} == ENTRY_POINTS
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(MAY_IMPORT)


def test_the_chain_names_every_folder_and_each_imports_only_folders_before_it():
    chain = declared_chain()
    assert sorted(name for name in chain if (PACKAGE / name).is_dir()) == FOLDERS, chain
    for folder in FOLDERS:
        earlier = set(chain[: chain.index(folder)])
        assert MAY_IMPORT[folder] <= earlier, f"{folder}/ says it imports {MAY_IMPORT[folder] - earlier}, later in the chain"


@pytest.mark.parametrize("folder", sorted(MAY_IMPORT))
def test_every_folder_says_what_it_is(folder):
    docstring = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))
    assert docstring and len(docstring) > 60, folder


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_back_up(path):
    here = folder_of(module_name(path))
    if here is None:
        return  # cli.py and the package itself may import anything
    for target in imported_modules(path):
        there = folder_of(target)
        assert there is not None, f"{path.name} imports the entry point {target}"
        assert there == here or there in MAY_IMPORT[here], f"{module_name(path)} ({here}/) imports {target} ({there}/)"


def test_no_import_circle():
    graph = {module_name(p): imported_modules(p) - {module_name(p)} for p in MODULES}
    for name in graph:  # a package's __init__ is imported with each of its modules; it must import none of them
        if (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists():
            assert not graph[name], f"{name}/__init__.py imports {graph[name]}"
    visiting, done, circles = [], set(), []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            circles.append([*visiting[visiting.index(name) :], name])
            return
        visiting.append(name)
        for target in sorted(graph.get(name, ())):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert not circles, circles


def test_the_readme_module_table_names_only_what_exists():
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `wizard/lbwizard/")]
    assert len(rows) == len(MAY_IMPORT) + 2  # every folder, cli.py and launch.py
    for row in rows:
        place = re.match(r"\| `([^`]+)`", row).group(1)
        assert (PACKAGE.parents[1] / place).exists(), place
        if place.endswith("/"):
            for name in re.findall(r"`([\w.]+\.(?:py|tcss))`", row):
                assert (PACKAGE.parents[1] / place / name).exists(), f"{place}{name}"
