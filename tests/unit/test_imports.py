"""No import circles in src/hotline, and every package imports only the layers below it
(``MAY_IMPORT``, as docs/ARCHITECTURE.md draws them). The modules' imports are read with
ast: module level, ``if TYPE_CHECKING:`` blocks included (a circle of types is a circle of
design too); imports inside functions are not counted."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """Import statements outside functions and classes (in ifs and trys too)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If | ast.Try):
            for block in (node.body, node.orelse, *(h.body for h in getattr(node, "handlers", ())),
                          getattr(node, "finalbody", [])):
                found.extend(_top_level(block))
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _top_level(ast.parse(path.read_text(), str(path)).body):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # ``from package import module`` imports the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            edges.update(t for t in targets if t in files and t != name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "hotline.server.session" in graph["hotline.server.app"]
    assert "hotline.server.connection" in graph["hotline.server.session"]


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: Who may import whom, package by package (docs/ARCHITECTURE.md): a package imports only
#: the ones listed (and itself); nothing imports the CLI, and the server and the client
#: never import each other.
BASE = {"errors", "logtext", "hotline"}
MAY_IMPORT: dict[str, set[str]] = {
    "hotline": set(),  # the root package: its version only
    "errors": set(),
    "logtext": set(),
    "roles": {"errors"},
    "phases": set(),
    "crypto": {"errors", "roles", "phases"},
    "signaling": {"crypto", "roles", "phases", "errors"},
    "rtc": {"crypto"} | BASE,
    "sfu": {"rtc"} | BASE,
    "server": {"sfu", "rtc", "signaling", "crypto", "roles", "phases"} | BASE,
    "client": {"rtc", "signaling", "crypto", "roles", "phases"} | BASE,
    "cli": {"server", "client", "sfu", "rtc", "signaling", "crypto", "roles", "phases"} | BASE,
}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        mine = package_of(module)
        allowed = MAY_IMPORT.get(mine)
        if allowed is None:
            found.append(f"{module}: package {mine!r} is not in MAY_IMPORT")
            continue
        for target in sorted(targets):
            theirs = package_of(target)
            if theirs != mine and theirs not in allowed:
                found.append(f"{module} imports {target} ({mine} may not import {theirs})")
    return found


def test_every_package_imports_only_the_layers_below_it() -> None:
    assert layer_violations(import_graph()) == []


def test_a_layer_violation_is_found() -> None:
    graph = {"hotline.crypto.x": {"hotline.server.app"}, "hotline.server.app": set()}
    assert layer_violations(graph) == [
        "hotline.crypto.x imports hotline.server.app (crypto may not import server)"]


WEB_SRC = SRC.parent / "web" / "src"
_TS_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.[^"']+)["']""",
                        re.M | re.S)


def web_import_graph() -> dict[str, set[str]]:
    """The page's modules (web/src/**/*.ts) and the relative modules each imports
    (``import``/``export ... from``, type-only imports included)."""
    files = {p.relative_to(WEB_SRC).as_posix(): p for p in WEB_SRC.rglob("*.ts")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges = set()
        for spec in _TS_IMPORT.findall(path.read_text()):
            target = (path.parent / spec).resolve()
            for candidate in (target.with_suffix(".ts"), target / "index.ts"):
                rel = candidate.relative_to(WEB_SRC.resolve()).as_posix() \
                    if candidate.is_relative_to(WEB_SRC.resolve()) else None
                if rel in files:
                    edges.add(rel)
                    break
        graph[name] = edges
    return graph


def test_the_page_has_no_import_cycles() -> None:
    graph = web_import_graph()
    assert "crypto/keyschedule/index.ts" in graph["app/call.ts"] | graph["app/keys.ts"]
    assert cycles(graph) == []


#: The page's layers: crypto/ (pure, the twin of hotline.crypto) may read only the
#: generated schema's types of protocol/; media/ (the worker) imports no protocol or app.
WEB_MAY_IMPORT: dict[str, set[str]] = {
    "errors.ts": set(),
    "crypto": {"errors.ts", "protocol/messages.gen.ts"},
    "protocol": {"crypto", "errors.ts"},
    "media": {"crypto", "errors.ts"},
    "app": {"crypto", "protocol", "media", "errors.ts"},
}


def test_the_page_imports_only_the_layers_below() -> None:
    bad = []
    for module, targets in sorted(web_import_graph().items()):
        mine = module.split("/")[0]
        allowed = WEB_MAY_IMPORT[mine]
        for target in targets:
            theirs = target.split("/")[0]
            if theirs != mine and theirs not in allowed and target not in allowed:
                bad.append(f"{module} imports {target}")
    assert bad == []
