"""hotline.crypto is PURE: no asyncio, sockets or network libraries, no file I/O except
identity key files; and it is the only package that imports `cryptography`."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "hotline"
FORBIDDEN = {"asyncio", "socket", "selectors", "ssl", "aiohttp", "aiortc", "aioice", "http",
             "urllib", "threading", "subprocess", "multiprocessing", "time"}
IO_ALLOWED = {"identity.py"}  # the identity key files


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


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


def test_crypto_imports_no_io_modules() -> None:
    modules = sorted((SRC / "crypto").rglob("*.py"))  # its subpackages (keyschedule/) too
    assert len(modules) > 10
    for path in modules:
        bad = imports(path) & FORBIDDEN
        assert not bad, f"{path.name} imports {bad}"
        if path.name not in IO_ALLOWED:
            assert not imports(path) & {"pathlib", "io", "tempfile", "shutil"}, path.name
            assert not io_uses(path), f"{path.name} does I/O: {io_uses(path)}"


def test_only_crypto_imports_cryptography() -> None:
    for path in SRC.rglob("*.py"):
        if "crypto" in path.relative_to(SRC).parts[:1]:
            continue
        assert "cryptography" not in imports(path), f"{path} imports cryptography"
