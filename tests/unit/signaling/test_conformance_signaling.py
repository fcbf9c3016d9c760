"""Signaling conformance (protocol/conformance/signaling/*.json): every message each
receiver must accept or refuse, run against Python's parse_client / parse_server. The
page's parser runs the same files in web/test/node/signaling.test.ts (`make web-test`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from hotline.errors import ProtocolError
from hotline.signaling import messages as m

ROOT = Path(__file__).resolve().parents[3]
FOLDER = ROOT / "protocol" / "conformance" / "signaling"
PARSERS: dict[str, list[Callable[[str], object]]] = {
    "client_to_server": [m.parse_client],
    "server_to_client": [m.parse_server],
    "both": [m.parse_client, m.parse_server],
}


def _filled(doc: dict[str, Any], fill: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {**doc, **{k: f["char"] * f["length"] for k, f in fill.items()}}


def _text(case: dict[str, Any]) -> str:
    if "repeat" in case:
        return str(case["repeat"]["text"]) * int(case["repeat"]["times"])
    if "text" in case:
        return str(case["text"])
    return json.dumps(_filled(case["message"], case.get("fill", {})), separators=(",", ":"),
                      ensure_ascii=False)


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in sorted(FOLDER.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out += [(path.name, doc["direction"], case) for case in doc["cases"]]
    return out


def test_the_files_cover_every_message_type_both_ways() -> None:
    files = sorted(FOLDER.glob("*.json"))
    assert files
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["version"] == 1 and doc["description"], path.name
    valid: dict[str, set[str]] = {"client_to_server": set(), "server_to_client": set()}
    for _, direction, case in _cases():
        if case["valid"]:
            valid[direction].add(case["message"]["type"])
    schema = json.loads((ROOT / "protocol" / "schema" / "signaling.json").read_text())
    for direction, union in (("client_to_server", "ClientMessage"),
                             ("server_to_client", "ServerMessage")):
        types = {schema["$defs"][ref["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["const"]
                 for ref in schema["$defs"][union]["oneOf"]}
        assert valid[direction] == types, direction
    refused = [c for _, _, c in _cases() if not c["valid"]]
    assert len(refused) >= 100


@pytest.mark.parametrize(("file", "direction", "case"), _cases(),
                         ids=[f"{f}:{c['name']}" for f, _, c in _cases()])
def test_python_accepts_or_refuses(file: str, direction: str, case: dict[str, Any]) -> None:
    text = _text(case)
    for parse in PARSERS[direction]:
        if not case["valid"]:
            with pytest.raises(ProtocolError):
                parse(text)
            continue
        message = parse(text)
        assert isinstance(message, BaseModel)
        expect = _filled(case.get("expect", case["message"]), case.get("fill", {}))
        assert json.loads(m.encode(message)) == expect
