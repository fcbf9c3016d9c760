"""Malicious server against a real Chromium page: the SFU swaps whose media appears
under which name (issue #12, item 4; tests/support/evil_sfu.py), the browser twin of
tests/integration/test_malicious_streams.py.

Alice and Bob (Python ``Call``) publish; Carol joins with the served call page. The SFU
attributes Alice's streams to Bob and Bob's to Alice in Carol's offers (``relabel``), or
forwards each one's packets on the m-lines announced as the other's (``reroute``).
Carol's receive transforms are bound to the participant the offer names (the transform
option ``participant``): every swapped frame is dropped in the worker before decryption
and counted. Figures asserted, polled every 0.1 s for the whole run: tile videos shown
0, frames decoded under either swapped name 0; frames counted as someone else's > 0 for
both names, said in the page's problem list and on the tiles.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from hotline.client.call import Call
from hotline.crypto.identity import Identity

from ..support.evil_sfu import Attack, attacked  # noqa: F401 (the fixture)
from ..support.server import Server
from ..support.trust import accept_all
from .callpage import ROOM, enrolled, join
from .support import MEDIA_ARGS, check_app_bundle, chromium

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]


@pytest.mark.parametrize("attacked", ["relabel", "reroute"], indirect=True)
async def test_swapped_streams_are_never_shown_in_the_page(
        attacked: tuple[Server, Attack]) -> None:  # noqa: F811 (the fixture)
    srv, attack = attacked
    calls = []
    for name in ("alice", "bob"):
        call = Call(srv.url, Identity.generate(), ROOM, video_size=(160, 120),
                    trust_policy=accept_all())
        await call.start(enroll_code=srv.store.new_enrollment_code(name))
        calls.append(call)
    alice, bob = calls
    a_id, b_id = alice.signaling.participant_id, bob.signaling.participant_id
    assert a_id is not None and b_id is not None
    attack.swap = {a_id: b_id, b_id: a_id}
    try:
        async with chromium(MEDIA_ARGS, check_app_bundle) as browser:
            carol = await enrolled(browser, srv.url, "carol",
                                   srv.store.new_enrollment_code("carol"))
            await join(carol)
            shown = 0
            polls = 0
            joined = time.monotonic()
            deadline = joined + 30
            while True:
                shown += await carol.page.evaluate(
                    "() => [...document.querySelectorAll('#tiles video')]"
                    ".filter(v => !v.hidden && v.srcObject !== null).length")
                polls += 1
                st = await carol.state()
                remotes: dict[str, Any] = st["remotes"]
                if time.monotonic() - joined > 5 and all(
                        remotes.get(n, {}).get("wrongStream", 0) > 30 for n in ("alice", "bob")):
                    break  # 5 s of swapped media at least
                assert time.monotonic() < deadline, f"no swapped frames counted: {remotes}"
                await asyncio.sleep(0.1)
            assert attack.offers_tampered + attack.copies_rerouted > 0
            assert st["phase"] == "in-call", st["error"]
            for n in ("alice", "bob"):
                r = remotes[n]
                assert r["framesDecoded"] == 0, r
                assert r["keys"] != "ok", r
            assert shown == 0, f"a tile showed video in {polls} polls"
            problems = await carol.page.locator("#problems").inner_text()
            assert "swapped or relabelled" in problems, problems
            for n in ("alice", "bob"):
                overlay = carol.page.locator(f'#tiles .tile[data-party="{n}"] .waiting')
                assert "someone else's media" in await overlay.inner_text()
            # the worker's own figures: nothing of the swapped streams came out
            counters = st["worker"]["totals"]
            assert counters["recv/video"]["framesOut"] == 0, counters
            assert counters["recv/video"]["failures"].get("wrong_participant", 0) > 30, counters
            assert carol.problems == []
            print({"polls": polls, "shown": shown,
                   "wrongStream": {n: remotes[n]["wrongStream"] for n in ("alice", "bob")},
                   "recv/video": counters["recv/video"], "recv/audio": counters["recv/audio"]})
    finally:
        for c in calls:
            await c.close()
