"""The page decides whom it seals keys to (issue #12, items 1-2), in Chromium:

- in a room, two parties the page has never verified are shown UNVERIFIED ("new party",
  their fingerprints, Accept / Refuse) on their tiles and in the participant list, and
  receive no key from the page (counted at the Python clients: keys from the page, 0);
  Refuse keeps one at zero keys; Accept gives the other a fresh key (it then decrypts the
  page's video, and the page decrypts its); joining again asks nothing for the accepted
  one (kept in IndexedDB) and shows the refused one as refused;
- a hotline whose far end presents a key that is not the pin imported in the page: the
  page's link test refuses it before sealing anything (keys the far end received from
  the page: 0), raises an alarm naming the party and both fingerprints, and reports the
  failure in the link test result; with no pin at all, "Call" is refused in the page.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotline.client.call import Call
from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import KeyMessage
from hotline.signaling import messages as m

from ..integration.hotline_support import RunningStandby, enroll, standby
from ..support.evil_proxy import EvilProxy, is_sealed_key
from ..support.server import start_server
from ..support.trust import accept_all
from ..support.wait import wait_until
from .support import MEDIA_ARGS, check_app_bundle, chromium
from .support import enroll as enroll_page
from .test_web_hotline import pin_in_page

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
ROOM = "summit"


def keys_from(call: Call, pid: int) -> int:
    """Key messages from participant ``pid`` this Python client installed."""
    assert call.signaling.schedule is not None
    return sum(1 for e in list(call.signaling.events._queue)  # type: ignore[attr-defined]
               if e.kind == "keys_rotated" and e.data.get("sender") == pid)


async def test_unverified_members_get_no_key_until_accepted_in_the_page(tmp_path: Path) -> None:
    srv = await start_server(tmp_path / "data", join_timeout=5.0)
    srv.room(ROOM, ["washington", "alice", "bob"])
    calls = {n: Call(srv.url, Identity.generate(), ROOM, video_size=(160, 120),
                     trust_policy=accept_all()) for n in ("alice", "bob")}
    try:
        async with chromium(MEDIA_ARGS, check_app_bundle) as browser:
            page = await (await browser.new_context()).new_page()
            await enroll_page(page, srv.url, srv.store.new_enrollment_code("washington"), ROOM,
                              "?video=320x240")
            for n, c in calls.items():
                await c.start(enroll_code=srv.store.new_enrollment_code(n))

            async def join() -> int:
                await page.get_by_role("button", name=f"Join {ROOM}").click(timeout=15_000)
                await page.get_by_role("button", name="Join now").click(timeout=15_000)
                await page.wait_for_function("() => window.hotlineApp.phase === 'in-call'",
                                             timeout=30_000)
                return int(await page.evaluate("() => window.hotlineApp.participantId"))

            me = await join()
            await page.wait_for_function(
                "() => Object.keys(window.hotlineTrust.unverified).length === 2", timeout=15_000)
            trust = await page.evaluate("() => window.hotlineTrust.unverified")
            pids = {calls[n].signaling.participant_id: n for n in calls}
            for pid, n in pids.items():
                entry = trust[str(pid)]
                assert entry["party"] == n and entry["verdict"] == "new_party"
                assert entry["fingerprint"] == calls[n].signaling.identity.fingerprint
            tile = page.locator('figure.tile[data-party="alice"]')
            warning = await tile.locator(".trust-warning").inner_text()
            assert "New party: alice" in warning
            assert calls["alice"].signaling.identity.fingerprint in warning
            assert "UNVERIFIED" in await page.locator("#participants").inner_text()
            await asyncio.sleep(2.0)
            figures = {n: keys_from(c, me) for n, c in calls.items()}
            print(f"keys from the page before any decision: {figures}")
            assert figures == {"alice": 0, "bob": 0}

            # Refuse bob: stays at zero keys. Accept alice: a fresh key reaches her.
            await page.locator('figure.tile[data-party="bob"] button.trust-refuse').click()
            await page.locator('figure.tile[data-party="alice"] button.trust-accept').click()
            async def alice_keyed() -> bool:
                return keys_from(calls["alice"], me) >= 1
            await wait_until(alice_keyed, 10, "alice's key")

            async def alice_decrypts() -> bool:
                r = calls["alice"].stats().remote.get("washington", {})
                return bool(r.get("video_frames_decrypted", 0) > 10)
            await wait_until(alice_decrypts, 20, "alice decrypting the page")
            await page.wait_for_function(
                "() => (window.hotlineApp.remotes.alice || {}).framesDecoded > 10", timeout=20_000)
            assert keys_from(calls["bob"], me) == 0
            assert calls["bob"].stats().remote.get("washington", {}).get(
                "video_frames_decrypted", 0) == 0
            state = await page.evaluate("() => window.hotlineTrust.unverified")
            assert list(state) == [str(calls["bob"].signaling.participant_id)]
            assert state[str(calls["bob"].signaling.participant_id)]["verdict"] == "refused"
            assert await page.locator('figure.tile[data-party="alice"] .trust-warning').count() == 0

            # Join again (same browser, same key): alice asks nothing, bob is still refused.
            await page.get_by_role("button", name="Leave").click()
            await page.wait_for_function("() => window.hotlineApp.phase === 'rooms'",
                                         timeout=15_000)
            await join()
            await asyncio.sleep(1.5)
            again = await page.evaluate("() => window.hotlineTrust.unverified")
            assert [v["party"] for v in again.values()] == ["bob"], again
            assert next(iter(again.values()))["verdict"] == "refused"
    finally:
        for c in calls.values():
            await c.close()
        await srv.close()


async def test_the_page_refuses_a_hotline_key_that_is_not_its_pin(tmp_path: Path) -> None:
    srv = await start_server(tmp_path / "data", linktest_min_interval=1.0,
                             linktest_duration=3.0, linktest_first_delay=3600.0,
                             join_timeout=5.0)
    srv.store.add_party("washington")
    srv.store.add_party("moscow")
    proxy = EvilProxy(srv.url)  # moscow's connections: what it receives is counted
    await proxy.start(face_of=srv.app)
    far: RunningStandby | None = None
    try:
        async with chromium(MEDIA_ARGS, check_app_bundle) as browser:
            page = await (await browser.new_context()).new_page()
            await enroll_page(page, srv.url, srv.store.new_enrollment_code("washington"), None,
                              "?video=320x240")
            moscow = await enroll(srv, "moscow")
            srv.store.add_hotline("red", "washington", "moscow")
            await page.reload()
            card = page.locator('article.hotline[data-hotline="red"]')
            await card.wait_for(timeout=15_000)
            # no pin yet: the card says so, and calling is refused in the page
            assert "No pin of moscow" in await card.locator(".pins").inner_text()
            await card.get_by_role("button", name="Call moscow").click()
            await page.wait_for_function("() => window.hotlineTrust.alarms.length === 1")
            assert "no pin" in (await page.evaluate("() => window.hotlineTrust.alarms"))[0]
            # the pin the page imports is not the key the server presents for moscow
            wrong = Identity.generate().fingerprint
            await pin_in_page(page, card, [wrong])
            await card.get_by_role("button", name="Stand by here").click()
            await page.wait_for_function("() => window.hotlineApp.hotlines.standby.red === true")
            far = await standby(srv, moscow, proxy.url)
            await card.get_by_role("button", name="Run a link test now").click()
            result = await far.next("linktest_result", timeout=60)
            # one refused test per path of the round (sfu, direct): an alarm each
            await page.wait_for_function("() => window.hotlineTrust.alarms.length === 3",
                                         timeout=10_000)
            alarm, direct_alarm = (await page.evaluate("() => window.hotlineTrust.alarms"))[1:]
            notice = await page.locator("#trust-alarm").inner_text()
            # a call placed by the page: moscow answers, and the key the server presents for
            # it is not the pin either: refused in the call, before anything is sealed
            await card.get_by_role("button", name="Call moscow").click()
            ring = await far.next("ring", timeout=10)
            far.standby.answer(str(ring.data["call_id"]))
            await page.get_by_role("button", name="Join now").click(timeout=15_000)
            await page.wait_for_function("() => window.hotlineTrust.alarms.length >= 4",
                                         timeout=20_000)
            call_alarm = (await page.evaluate("() => window.hotlineTrust.alarms"))[3]
            await page.wait_for_function("() => window.hotlineApp.phase === 'rooms'")
            # one refused call, one alarm (not one from the event and one from the join)
            call_alarms = len(await page.evaluate("() => window.hotlineTrust.alarms")) - 3
            call_error = await page.evaluate("() => window.hotlineApp.error")
    finally:
        if far is not None:
            await far.stop()
        await proxy.close()
        await srv.close()
    assert "moscow" in alarm and moscow.fingerprint in alarm and wrong in alarm, alarm
    assert "NOT the pinned key" in alarm
    assert "moscow" in direct_alarm and "NOT the pinned key" in direct_alarm, direct_alarm
    assert "moscow" in call_alarm and wrong in call_alarm and "NOT the pinned key" in call_alarm
    assert call_alarms == 1, f"one refused call raised {call_alarms} alarms"
    assert "NOT the pinned key" in call_error  # the call ended with the alarm as its error
    assert "ALARM" in notice
    assert result.data["outcome"] != "ok"
    ends = result.data["result"]
    assert isinstance(ends, dict)
    for path in ("sfu", "direct"):
        assert "pinned" in str(ends["paths"][path]["ends"]["washington"]["error"]), path
    # the link test's and the call's rooms hold moscow and the page only: every key moscow
    # got is the page's
    from_page = [KeyMessage.decode(m.b64decode(d["data"])) for conn in proxy.seen for d in conn
                 if d.get("type") == "key_from" and is_sealed_key(d)]
    print(f"keys moscow received from the page: {len(from_page)}")
    assert from_page == []
