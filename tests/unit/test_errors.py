"""The one exception tree (hotline.errors) and its table of wire codes.

* every HotlineError subclass in src/hotline is drawn in the tree at the top of
  hotline.errors, under its parent; one defined elsewhere names its module there;
* every code the server can send maps to one class, and that class back to the code;
  the server builds its ``error`` messages only through that table;
* the table is the one of protocol/conformance/errors/wire-codes.json, which the browser's
  table (web/src/errors.ts) is checked against too.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

import hotline
from hotline import errors
from hotline.errors import (
    FROM_WIRE,
    WIRE_CODES,
    BadRequest,
    CryptoError,
    Forbidden,
    HotlineError,
    HotlineForbidden,
    ProtocolError,
    Reason,
    Refused,
    ServerError,
    Unauthorized,
    UsageError,
    from_wire,
    to_wire,
    wire_code,
)

ROOT = Path(__file__).parents[2]
CONFORMANCE = json.loads((ROOT / "protocol/conformance/errors/wire-codes.json").read_text())
TREE_LINE = re.compile(r"^(?P<pad>[│ ]*)[├└]── (?P<name>\w+)\s*(?:\((?P<module>[\w.]+)\))?")


def all_error_classes() -> set[type[HotlineError]]:
    for info in pkgutil.walk_packages(hotline.__path__, "hotline."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found: set[type[HotlineError]] = set()
    todo: list[type[HotlineError]] = [HotlineError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def drawn_tree() -> dict[str, tuple[str, str]]:
    """name -> (parent name, module named in the tree or hotline.errors)."""
    doc = errors.__doc__ or ""
    tree: dict[str, tuple[str, str]] = {"HotlineError": ("", "hotline.errors")}
    stack: list[tuple[int, str]] = [(-1, "HotlineError")]
    for line in doc.splitlines():
        match = TREE_LINE.match(line)
        if match is None:
            continue
        depth = len(match["pad"]) // 4  # the block is indented by 4, as deep as the root
        while stack[-1][0] >= depth:
            stack.pop()
        tree[match["name"]] = (stack[-1][1], match["module"] or "hotline.errors")
        stack.append((depth, match["name"]))
    return tree


def test_every_error_class_is_in_the_tree_under_its_parent() -> None:
    tree = drawn_tree()
    classes = {cls.__name__: cls for cls in all_error_classes()}
    assert set(classes) == set(tree), "draw new error classes in hotline.errors' tree"
    for name, cls in classes.items():
        parent, module = tree[name]
        assert cls.__module__ == module, f"{name} is defined in {cls.__module__}"
        if parent:
            assert cls.__bases__[0].__name__ == parent, f"{name} is drawn under {parent}"


def test_every_wire_code_maps_to_one_class_and_back() -> None:
    assert set(FROM_WIRE) == set(WIRE_CODES.values())
    for code, cls in FROM_WIRE.items():
        assert issubclass(cls, ServerError)
        assert wire_code(cls) == code
        refused = from_wire(code, "why")
        assert type(refused) is cls
        assert refused.code == code and refused.message == "why"
        assert str(refused) == f"{code}: why"
        assert to_wire(refused) == ((code, "why") if code != "internal"
                                    else ("internal", "internal error"))


def test_the_table_is_the_conformance_file() -> None:
    assert CONFORMANCE["version"] == 1
    assert {code: cls.__name__ for code, cls in FROM_WIRE.items()} == CONFORMANCE["codes"]
    unknown = from_wire("a-code-of-later", "hm")
    assert type(unknown).__name__ == CONFORMANCE["unknown_code"]
    assert unknown.code == "a-code-of-later"
    text = CONFORMANCE["text"]
    assert str(from_wire(text["code"], text["message"])) == text["expected"]


@pytest.mark.parametrize(("exc", "sent"), [
    (Unauthorized("authenticate first"), ("unauthorized", "authenticate first")),
    (HotlineForbidden("no hotline named 'x'"), ("forbidden", "no hotline named 'x'")),
    (ProtocolError("already in a room"), ("bad_request", "already in a room")),
    (UsageError("answered already"), ("refused", "answered already")),
    (CryptoError(Reason.BAD_KEY, "secret-ish detail"), ("internal", "internal error")),
])
def test_what_the_server_sends_for_an_error(exc: HotlineError, sent: tuple[str, str]) -> None:
    assert to_wire(exc) == sent
    code, message = sent
    back = from_wire(code, message)
    assert back.code == code and back.message == message
    assert isinstance(back, {"unauthorized": Unauthorized, "forbidden": Forbidden,
                             "bad_request": BadRequest, "refused": Refused}.get(code, ServerError))


def test_the_server_builds_error_messages_only_through_the_table() -> None:
    """No handler writes a code of its own: every ``Error(...)`` of the server and the SFU
    takes its code from hotline.errors.to_wire."""
    for path in [*(ROOT / "src/hotline/server").rglob("*.py"),
                 *(ROOT / "src/hotline/sfu").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "Error"):
                for kw in node.keywords:
                    assert not (kw.arg == "code" and isinstance(kw.value, ast.Constant)), (
                        f"{path}:{node.lineno} sends a literal error code")
