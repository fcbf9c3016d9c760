"""The modules declared PURE (one list, :data:`PURE`) do no I/O: no asyncio, sockets or
network libraries, no clock, no file I/O (but the identity key files), and they import
only other pure modules. Only hotline.crypto imports `cryptography`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "hotline"
#: Every package (all its modules) and module declared PURE, relative to src/hotline.
#: A module whose docstring says PURE must be covered here.
PURE = (
    "crypto",
    "signaling",
    "errors.py",
    "sfu/rtp.py",
    "sfu/forwarding.py",
    "sfu/nack.py",
    "sfu/reception.py",
    "sfu/uplink.py",
    "server/hotline/outcomes.py",
    "roles.py",
    "phases.py",
    "server/connection.py",
)
FORBIDDEN = {"asyncio", "socket", "selectors", "ssl", "aiohttp", "aiortc", "aioice", "http",
             "urllib", "threading", "subprocess", "multiprocessing", "time", "random"}
#: Submodules of forbidden packages that only compute (string parsing).
ALLOWED = {"urllib.parse"}
FILE_IO = {"pathlib", "io", "tempfile", "shutil"}
IO_ALLOWED = {"crypto/identity.py"}  # the identity key files


def pure_files() -> list[Path]:
    files: set[Path] = set()
    for entry in PURE:
        path = SRC / entry
        assert path.exists(), f"{entry} is declared pure but does not exist"
        files |= set(path.rglob("*.py")) if path.is_dir() else {path}
    return sorted(files)


def checked_files() -> list[Path]:
    """The pure modules and the package __init__ files run on the way to them."""
    files = set(pure_files())
    for path in list(files):
        for parent in path.relative_to(SRC).parents:
            files.add(SRC / parent / "__init__.py")
    return sorted(files)


def name(path: Path) -> str:
    return str(path.relative_to(SRC))


def imported(path: Path) -> set[str]:
    """The dotted names of every module ``path`` imports (relative imports resolved;
    ``from a import b`` counts as a and, if b is a module, a.b)."""
    package = ["hotline", *path.relative_to(SRC).parent.parts]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}")}
    names.discard("__future__")
    return names


def module_file(dotted: str) -> Path | None:
    """The file of a hotline module, or None (not hotline's, or not a module)."""
    parts = dotted.split(".")
    if parts[0] != "hotline":
        return None
    base = SRC.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def io_uses(path: Path) -> set[str]:
    """Builtin open() calls and os.* uses other than os.urandom."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "open":
                found.add("open()")
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "os" and node.attr != "urandom"):
            found.add(f"os.{node.attr}")
    return found


def forbidden(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in FORBIDDEN and m not in ALLOWED}


def test_the_declared_list_covers_every_module_that_says_pure() -> None:
    pure = set(pure_files())
    assert len([p for p in pure if name(p).startswith("crypto/")]) > 10
    for path in SRC.rglob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if re.search(r"\bPURE\b", doc):
            assert path in pure, f"{name(path)} says PURE: add it to PURE in {__file__}"


@pytest.mark.parametrize("path", checked_files(), ids=name)
def test_a_pure_module_imports_no_io_modules(path: Path) -> None:
    modules = imported(path)
    assert not forbidden(modules), f"{name(path)} imports {forbidden(modules)}"
    if name(path) not in IO_ALLOWED:
        assert not {m.split(".")[0] for m in modules} & FILE_IO, name(path)
        assert not io_uses(path), f"{name(path)} does I/O: {io_uses(path)}"


@pytest.mark.parametrize("path", checked_files(), ids=name)
def test_a_pure_module_imports_only_pure_hotline_modules(path: Path) -> None:
    checked = set(checked_files())
    for module in imported(path):
        target = module_file(module)
        if module.split(".")[0] == "hotline":
            assert target is not None, f"{name(path)} imports {module}: not found"
            assert target in checked, f"{name(path)} imports {module}, which is not pure"


def test_only_crypto_imports_cryptography() -> None:
    for path in SRC.rglob("*.py"):
        if "crypto" in path.relative_to(SRC).parts[:1]:
            continue
        assert not {m for m in imported(path) if m.split(".")[0] == "cryptography"}, \
            f"{path} imports cryptography"
