"""The media path labels (the same in the CLI and the page: web/src/app/pathlabel.ts)
and the relay choice order."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hotline.client.mediapath import PathShown, path_label
from hotline.client.relay import candidates
from hotline.signaling import messages as m

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.asyncio
async def test_changes_are_recorded_and_announced() -> None:
    shown = PathShown()
    shown._init_path()
    heard: list[str] = []
    shown.on_path_change = heard.append
    for label in ("via SFU", "via SFU", "relay over TCP", "", "via SFU"):
        shown.set_path(label)
    assert heard == ["via SFU", "relay over TCP", "via SFU"] and shown.path == "via SFU"
    assert [label for _, label in shown.path_changes] == heard
    loop_now = asyncio.get_running_loop().time()
    assert all(0 <= loop_now - t < 5 for t, _ in shown.path_changes)


def test_bad_urls_from_the_server_are_skipped() -> None:
    servers = [m.IceServer(urls=["turn:a.example:3478?transport=udp"] * 20,
                           username="1:p", credential="c")]
    assert len(candidates(servers)) == 8
    # a message from the server was validated already; a list built in code is checked
    bad = m.IceServer.model_construct(urls=["turn:a.example:1"], username="u", credential="c")
    assert candidates([bad]) == []


def test_labels_conformance() -> None:
    """The same cases as the page's (web/test/node/pathlabel.test.ts)."""
    cases = json.loads((ROOT / "protocol/conformance/path-labels.json").read_text())["cases"]
    for c in cases:
        assert path_label(c["kind"], c["local_type"], c["relay"]) == c["label"], c
