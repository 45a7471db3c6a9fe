"""The house rules that keep the layers apart.

- ``Home.py``, ``pages/`` and ``webhooks/`` are thin: they never import the database
  libraries or a provider SDK; kaimen_core does that work.
- Every kaimen_core module declares its public surface in ``__all__``, and every name
  listed there exists.
- Packages use each other through those public names: only a package's own files
  import its private (``_``) modules and names.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import kaimen_core

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = frozenset(
    {"sqlmodel", "sqlalchemy", "psycopg", "psycopg2", "psycopg_pool", "alembic", "twilio", "stripe", "anthropic",
     "cloudinary"}
)
THIN_FOLDERS = ("pages", "webhooks")


def thin_files(root: Path) -> list[Path]:
    """The entry file and every module under pages/ and webhooks/ that exists right now."""
    files = [root / "Home.py"] if (root / "Home.py").is_file() else []
    for folder in THIN_FOLDERS:
        if (root / folder).is_dir():
            files.extend(sorted(p for p in (root / folder).rglob("*.py") if "__pycache__" not in p.parts))
    return files


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, module)`` for every absolute import, including importlib/__import__ of a literal name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def forbidden_imports(root: Path, files: list[Path]) -> list[str]:
    """One line per forbidden import in ``files``, naming the file, line and module."""
    problems = []
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except FileNotFoundError:  # removed while we looked (someone is editing the tree)
            continue
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as exc:
            problems.append(f"{path.relative_to(root)}:{exc.lineno}: does not parse ({exc.msg}); cannot check it")
            continue
        for line, module in _imported_modules(tree):
            if module.split(".")[0] in FORBIDDEN:
                problems.append(f"{path.relative_to(root)}:{line}: imports {module}")
    return problems


def test_pages_and_webhooks_import_no_database_library_or_provider_sdk():
    files = thin_files(ROOT)
    if not files:
        pytest.skip("neither Home.py nor pages/ nor webhooks/ exists yet")
    if (ROOT / "Home.py").is_file():
        assert ROOT / "Home.py" in files
    problems = forbidden_imports(ROOT, files)
    assert not problems, (
        "Pages, Home.py and webhooks call kaimen_core; they never touch the database or a provider SDK:\n"
        + "\n".join(problems)
    )


def test_the_layering_check_catches_what_it_should(tmp_path):
    (tmp_path / "Home.py").write_text("import streamlit as st\nfrom kaimen_core import auth\n")
    (tmp_path / "pages" / "nested").mkdir(parents=True)
    (tmp_path / "pages" / "fine.py").write_text("from kaimen_core import db\nfrom pages import _ui\nfrom . import x\n")
    (tmp_path / "pages" / "query.py").write_text("import os\nfrom sqlmodel import select\n")
    (tmp_path / "pages" / "nested" / "deep.py").write_text("import sqlalchemy.orm as orm\n")
    (tmp_path / "webhooks").mkdir()
    (tmp_path / "webhooks" / "sms.py").write_text(
        "import importlib\n\ndef client():\n    return importlib.import_module('twilio.rest')\n"
    )
    (tmp_path / "webhooks" / "pay.py").write_text("def f():\n    import stripe\n    return __import__('psycopg')\n")
    (tmp_path / "webhooks" / "half_written.py").write_text("def broken(:\n")

    files = thin_files(tmp_path)
    assert tmp_path / "Home.py" in files
    problems = sorted(forbidden_imports(tmp_path, files))
    assert problems[2].startswith("webhooks/half_written.py:1: does not parse (")
    assert problems[:2] + problems[3:] == [
        "pages/nested/deep.py:1: imports sqlalchemy.orm",
        "pages/query.py:2: imports sqlmodel",
        "webhooks/pay.py:2: imports stripe",
        "webhooks/pay.py:3: imports psycopg",
        "webhooks/sms.py:4: imports twilio.rest",
    ]


def test_the_layering_check_copes_with_missing_folders(tmp_path):
    assert thin_files(tmp_path) == []
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "only.py").write_text("import streamlit\n")
    assert thin_files(tmp_path) == [tmp_path / "pages" / "only.py"]
    assert forbidden_imports(tmp_path, [*thin_files(tmp_path), tmp_path / "pages" / "vanished.py"]) == []


def _kaimen_core_modules() -> list[str]:
    return ["kaimen_core"] + [
        info.name for info in pkgutil.walk_packages(kaimen_core.__path__, "kaimen_core.")
        if not info.name.endswith(".__main__")  # the command-line entry point runs when imported
    ]


@pytest.mark.parametrize("module_name", _kaimen_core_modules())
def test_every_kaimen_core_module_declares_what_it_exports(module_name):
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module_name} has no __all__"
    assert all(isinstance(name, str) for name in exported)
    assert len(exported) == len(set(exported)), f"{module_name}.__all__ lists a name twice"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{module_name}.__all__ names what it does not define: {missing}"
    private = [name for name in exported if name.startswith("_")]
    assert not private, f"{module_name}.__all__ exports private names: {private}"


def private_imports(root: Path, files: list[Path]) -> list[str]:
    """One line per import of another package's private module or name (``kaimen_core.x._y``, ``_name``).

    A package's own files may use its private modules; everything else uses what the
    package lists in ``__all__``.
    """
    problems = []
    for path in files:
        relative = path.relative_to(root)
        own = ".".join(relative.with_suffix("").parts[:2]) if relative.parts[0] == "kaimen_core" else None
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in imported:
                parts = name.split(".")
                if parts[0] != "kaimen_core" or not any(p.startswith("_") and p != "__init__" for p in parts[1:]):
                    continue
                package = ".".join(parts[:2])
                if own is not None and (own == package or own.startswith(package + ".")):
                    continue
                problems.append(f"{relative}:{node.lineno}: imports {name}")
    return problems


def test_packages_use_each_others_public_names_only():
    sources = (p for folder in ("kaimen_core", "pages", "webhooks") for p in (ROOT / folder).rglob("*.py"))
    files = [ROOT / "Home.py", *(p for p in sources if "__pycache__" not in p.parts and "migrations" not in p.parts)]
    problems = private_imports(ROOT, files)
    assert not problems, "Use what the other package lists in __all__:\n" + "\n".join(problems)


def test_the_private_import_check_catches_what_it_should(tmp_path):
    (tmp_path / "kaimen_core" / "customers").mkdir(parents=True)
    (tmp_path / "kaimen_core" / "customers" / "_a.py").write_text(
        "from kaimen_core.customers._b import x\nfrom kaimen_core.messaging._text import y\n")
    (tmp_path / "kaimen_core" / "worker.py").write_text(
        "from kaimen_core import messaging\nfrom kaimen_core.messaging import _delivery\n"
        "import kaimen_core.customers._search\nfrom kaimen_core.models import _types\n")
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "p.py").write_text("from pages import _ui\nfrom kaimen_core.db import _scope\n")
    files = sorted(tmp_path.rglob("*.py"))
    assert private_imports(tmp_path, files) == [
        "kaimen_core/customers/_a.py:2: imports kaimen_core.messaging._text.y",
        "kaimen_core/worker.py:2: imports kaimen_core.messaging._delivery",
        "kaimen_core/worker.py:3: imports kaimen_core.customers._search",
        "kaimen_core/worker.py:4: imports kaimen_core.models._types",
        "pages/p.py:2: imports kaimen_core.db._scope",
    ]
