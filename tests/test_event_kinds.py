"""Every event kind is named by its class: declared once, documented, and read typed.

A kind's string lives in the module that declares it (`@event_kind("...")`); everything else
refers to the class (`FilingReceived`, `FilingReceived.kind` in SQL filters). A package that
the layout (../shared/DESIGN.md) forbids from importing the declaring package names the kinds it
reads once, in its own `foreign_kinds.py`, with a Protocol of the fields it reads; both are
checked here against the declarations, so a renamed kind or a dropped field fails here rather
than in a projection that silently stops matching.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from ledger.events import EventBody, registered_kinds

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ledger", "validation", "workflow", "documents", "intake", "outbox", "portal", "chanquan")
SCANNED = (*PACKAGES, "bench", "scripts")
CHECKER = ROOT.parent / "shared" / "tools" / "check_layout.py"

# Literals someone else is still to replace: (file, kind) -> why it may stay for now. An entry
# that no longer matches anything fails the test, so the list only ever shrinks.
PENDING: dict[tuple[str, str], str] = {
    ("portal/filing_page.py", "review.requested"): "portal/ is being written in parallel; its author replaces it",
}


@dataclass(frozen=True)
class Declaration:
    kind: str
    module: str  # dotted, e.g. workflow.events
    class_name: str


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _python_files(folders: tuple[str, ...]) -> list[Path]:
    return sorted(p for folder in folders if (ROOT / folder).is_dir() for p in (ROOT / folder).rglob("*.py"))


def _declarations() -> list[Declaration]:
    """Every `@event_kind("...")` class in the packages, found in the source (tests declare their own)."""
    found = []
    for path in _python_files(PACKAGES):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and getattr(decorator.func, "id", getattr(decorator.func, "attr", "")) == "event_kind"
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                ):
                    found.append(Declaration(str(decorator.args[0].value), _module_name(path), node.name))
    return found


DECLARED = _declarations()


def _declared_class(declaration: Declaration) -> type[EventBody]:
    cls = getattr(importlib.import_module(declaration.module), declaration.class_name)
    assert isinstance(cls, type) and issubclass(cls, EventBody)
    return cls


def _layout() -> dict[str, set[str]] | None:
    if not CHECKER.exists():
        return None
    spec = importlib.util.spec_from_file_location("check_layout", CHECKER)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.ALLOWED)


def test_the_declarations_are_the_registered_kinds() -> None:
    kinds = [d.kind for d in DECLARED]
    assert len(kinds) > 25 and len(set(kinds)) == len(kinds), kinds
    classes = {declaration: _declared_class(declaration) for declaration in DECLARED}  # imports them all
    registry = registered_kinds()
    for declaration, cls in classes.items():
        assert cls.kind == declaration.kind and registry[declaration.kind] is cls


def _string_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def _foreign_kinds(path: Path) -> set[str]:
    """The kinds a `foreign_kinds.py` names: the string constants at its top level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }


def test_no_kind_string_outside_its_declaring_module() -> None:
    declaring = {d.kind: d.module for d in DECLARED}
    misplaced = []
    pending_seen = set()
    for path in _python_files(SCANNED):
        module = _module_name(path)
        relative = path.relative_to(ROOT).as_posix()
        foreign = _foreign_kinds(path) if path.name == "foreign_kinds.py" else set()
        for line, value in _string_literals(path):
            if value not in declaring or declaring[value] == module or value in foreign:
                continue
            if (relative, value) in PENDING:
                pending_seen.add((relative, value))
                continue
            misplaced.append(f"{relative}:{line}: {value!r} (declared in {declaring[value]})")
    assert not misplaced, "use the class (or Cls.kind):\n" + "\n".join(misplaced)
    assert pending_seen == set(PENDING), f"stale PENDING entries: {set(PENDING) - pending_seen}"


def test_foreign_kinds_are_declared_and_really_out_of_reach() -> None:
    """A package may name another's kind only where the layout forbids importing its class."""
    declaring = {d.kind: d.module for d in DECLARED}
    layout = _layout()
    files = [p for p in _python_files(PACKAGES) if p.name == "foreign_kinds.py"]
    assert files, "no foreign_kinds.py found"
    for path in files:
        package = path.relative_to(ROOT).parts[0]
        for kind in _foreign_kinds(path):
            assert kind in declaring, f"{path.relative_to(ROOT)} names {kind!r}, which nothing declares"
            owner = declaring[kind].split(".")[0]
            assert owner != package, f"{kind!r} is {package}'s own: import its class"
            if layout is not None:
                assert owner not in layout[package], f"{package}/ may import {owner}/: use {kind!r}'s class"


def test_foreign_views_match_the_declared_fields() -> None:
    """Each Protocol in a foreign_kinds.py (its `VIEWS`: Protocol -> kind) reads only declared fields, typed alike."""
    by_kind = {d.kind: d for d in DECLARED}
    for path in [p for p in _python_files(PACKAGES) if p.name == "foreign_kinds.py"]:
        module = importlib.import_module(_module_name(path))
        views: dict[type, str] = module.VIEWS
        assert set(views.values()) <= _foreign_kinds(path)
        for view, kind in views.items():
            fields = _declared_class(by_kind[kind]).model_fields
            for name, annotation in typing.get_type_hints(view).items():
                assert name in fields, f"{view.__name__}.{name}: {kind!r} has no such field"
                assert fields[name].annotation == annotation, f"{view.__name__}.{name}: {annotation!r}"


def _event_table() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("\n## Event kinds\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `"))


@pytest.mark.parametrize("kind", sorted(d.kind for d in DECLARED))
def test_every_kind_is_in_the_architecture_table(kind: str) -> None:
    listed = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", _event_table()))
    assert kind in listed, f"{kind} is missing from docs/architecture.md's event-kind table"


def test_the_architecture_table_lists_no_retired_kind() -> None:
    listed = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", _event_table()))
    assert listed <= {d.kind for d in DECLARED}, listed - {d.kind for d in DECLARED}
