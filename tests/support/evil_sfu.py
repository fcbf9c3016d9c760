"""A malicious SFU for tests: the real server's SFU, modified in the test process to swap
whose media appears under which name (issue #12, item 4). Two ways:

- :func:`relabelling_sfu`: the subscribe offers attribute the swapped publishers' streams
  to each other (the signalled mid -> participant mapping lies);
- :func:`rerouting_start`: the offers are honest, but the SFU forwards each swapped
  publisher's packets on the m-lines announced as the other's.

Only subscribers outside the swap are attacked; ``Attack.swap`` is filled in once the
participant ids are known (the offers made after that are the attacked ones).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hotline.server import app as server_app
from hotline.sfu import edge
from hotline.sfu.forwarding import ForwardedCopy

from .server import running_server


class Attack:
    """Which participant ids the SFU swaps; every other subscriber is a victim."""

    def __init__(self) -> None:
        self.swap: dict[int, int] = {}
        self.offers_tampered = 0
        self.copies_rerouted = 0

    def victim(self, pid: int) -> bool:
        return bool(self.swap) and pid not in self.swap

    def other(self, pid: int) -> int:
        return self.swap.get(pid, pid)


def relabelling_sfu(attack: Attack) -> type[edge.Sfu]:
    class RelabellingSfu(edge.Sfu):
        def __init__(self, media_host: str, send_offer: edge.OfferSink,
                     **kwargs: Any) -> None:
            def lying(room: str, pid: int, sdp: str, streams: list[edge.StreamInfo]) -> None:
                if attack.victim(pid) and any(s.participant_id in attack.swap for s in streams):
                    attack.offers_tampered += 1
                    streams = [edge.StreamInfo(s.mid, attack.other(s.participant_id), s.kind)
                               for s in streams]
                send_offer(room, pid, sdp, streams)

            super().__init__(media_host, lying, **kwargs)

    return RelabellingSfu


def rerouting_start(attack: Attack) -> Callable[[edge.SfuParticipant, ForwardedCopy], None]:
    def start(self: edge.SfuParticipant, copy: ForwardedCopy) -> None:
        stream = copy.stream
        if attack.victim(self.participant_id) and stream.publisher in attack.swap:
            owner = self.sfu.participants(self.room).get(attack.other(stream.publisher))
            other = None if owner is None else next(
                (s for s in owner.router.published.values() if s.kind == stream.kind), None)
            if other is not None:
                stream = other
                attack.copies_rerouted += 1
        if stream.add_copy(copy):
            stream.request_keyframe(self._now())

    return start


def install(how: str, monkeypatch: pytest.MonkeyPatch) -> Attack:
    """Modify the server's SFU (before the server is made): ``relabel`` or ``reroute``."""
    attack = Attack()
    if how == "relabel":
        monkeypatch.setattr(server_app, "Sfu", relabelling_sfu(attack))
    elif how == "reroute":
        monkeypatch.setattr(edge.SfuParticipant, "_start", rerouting_start(attack))
    else:
        raise ValueError(how)
    return attack


NAMES = ("alice", "bob", "carol")
ROOM = "summit"


@pytest_asyncio.fixture
async def attacked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                   tmp_path: Path) -> AsyncIterator[tuple[Any, Attack]]:
    """A real server whose SFU attacks as ``request.param`` says ("relabel" or
    "reroute"), with alice, bob and carol in room ``summit``."""
    attack = install(request.param, monkeypatch)
    async with running_server(tmp_path / "data", join_timeout=5.0) as srv:
        srv.room(ROOM, NAMES)
        yield srv, attack
