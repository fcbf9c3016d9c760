"""The browser client's key schedule and signaling (web/src/crypto/keyschedule/,
mediakeys.ts, keystore.ts, web/src/protocol/) in a real Chromium, against the real server
and two Python clients.

- ``test_keyschedule_rules_in_chromium`` loads web/test/roomtest.html?mode=unit: the
  TypeScript KeySchedule's own rules with in-page participants (refused key messages:
  wrong recipient, bad signature, replay and more, each leaving the state unchanged;
  roster rules; announcements outside the KEM policy; grace; rekey deadline; pending key
  messages; ordering of events handed in together; strict server-message validation).
- ``test_browser_in_a_room_with_two_python_clients`` starts the Hotline server in-process
  on 127.0.0.1, two Python SignalingClients and one browser page that enrolls with a code,
  joins the same room and keeps its state on ``window.hotlineRoom``. All three show one
  group code; frames encrypted by the page open in Python and the reverse; when a Python
  client leaves, the page's code follows the remaining client's and it rekeys within 1 s;
  a forged key message relayed by the server is refused by the page and changes nothing;
  a reload keeps the identity (IndexedDB, non-extractable) and authenticates without
  enrolling again; the page's timer rekeys on its own.

The bundle is built by ``make web``; this test fails if it is missing or stale. It runs
in the loopback-only namespace of ``make test``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from hotline.client.signaling import SignalingClient
from hotline.crypto.frames import Codec, protect, unprotect
from hotline.crypto.keymessage import KeyMessage
from hotline.crypto.kid import Slot, kids_for, make_kid
from hotline.crypto.suites import DEFAULT_SUITE
from hotline.errors import SFrameError
from hotline.signaling import messages as m

from ..support.server import Server, server_fixture
from ..support.trust import accept_all
from ..support.wait import wait_until
from .support import (
    CHROMIUM_ARGS,
    ROOT,
    WEB,
    browser_fixture,
    check_built,
    serve_static,
    watch_problems,
    web_files,
)
from .test_web_vectors import SERVED

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

BUNDLE = WEB / "dist" / "test" / "roomtest.js"
PAGE = "/web/test/roomtest.html"
FRAME = b"\x78" + bytes(range(80))  # an Opus-like frame: TOC byte, then payload
GRACE = 0.3
SETTLED = "() => ['joined', 'failed'].includes(window.hotlineRoom?.phase)"


@pytest.fixture
def served() -> Iterator[str]:
    with serve_static(ROOT, SERVED) as url:
        yield url


hotline = server_fixture(join_timeout=2.0)


def _check_bundle() -> None:
    check_built([BUNDLE], [*web_files("src/crypto", "src/protocol", "test"),
                           WEB / "src" / "errors.ts", WEB / "package-lock.json",
                           WEB / "tsconfig.json"])


browser = browser_fixture(CHROMIUM_ARGS, _check_bundle)


async def _page(browser: Any) -> tuple[Any, list[str]]:
    page = await (await browser.new_context()).new_page()
    return page, watch_problems(page, [])


async def test_keyschedule_rules_in_chromium(served: str, browser: Any) -> None:
    page, problems = await _page(browser)
    await page.goto(f"{served}{PAGE}?mode=unit")
    await page.wait_for_function("() => window.hotlineUnit?.done === true", timeout=60_000)
    summary = await page.evaluate("() => window.hotlineUnit")
    assert summary["failed"] == 0, "\n".join(summary["failures"])
    assert summary["passed"] == len(summary["names"]) >= 11
    assert any("refused key messages leave the state unchanged" in n for n in summary["names"])
    assert not problems, "\n".join(problems)


# -- the room ----------------------------------------------------------------------------


async def state(page: Any) -> dict[str, Any]:
    return await page.evaluate("() => window.hotlineRoom")  # type: ignore[no-any-return]


def current_kids(client: SignalingClient) -> set[int]:
    assert client.participant_id is not None
    return set(kids_for(client.participant_id, client.keys.generation))


async def in_sync(page: Any, clients: list[SignalingClient], *, min_generation: int = -1
                  ) -> bool:
    """Everyone shows one code, and everyone holds everyone's current keys."""
    s = await state(page)
    if s["phase"] != "joined" or s["code"] is None or s["generation"] < min_generation:
        return False
    if s["members"] != sorted(c.participant_id for c in clients):  # type: ignore[type-var]
        return False
    page_kids = {int(k) for k in s["senderKids"]}
    page_holds = {int(k) for k in s["decryptionKids"]}
    for c in clients:
        if c.code is None or c.code.digits != s["code"]["digits"]:
            return False
        if not current_kids(c) <= page_holds:
            return False
        if not all(c.keys.context.has_decryption_key(k) for k in page_kids):
            return False
    return True


async def _rejected(page: Any) -> bool:
    return (await state(page))["rejectedKeyMessages"] >= 1


async def check_frames_cross(page: Any, clients: list[SignalingClient]) -> None:
    """The page's frame opens in every Python client, and every client's in the page."""
    wire = bytes.fromhex(await page.evaluate("f => window.hotlineRoomApi.encrypt(f)", FRAME.hex()))
    assert wire[:1] == FRAME[:1] and FRAME[1:] not in wire  # TOC clear, the rest not
    for c in clients:
        assert unprotect(c.keys.context, Codec.OPUS, wire) == FRAME
    for c in clients:
        theirs = protect(c.keys.senders[Slot.AUDIO], Codec.OPUS, FRAME)
        opened = await page.evaluate("w => window.hotlineRoomApi.decrypt(w)", theirs.hex())
        assert bytes.fromhex(opened) == FRAME


async def test_browser_in_a_room_with_two_python_clients(
        hotline: Server, served: str, browser: Any) -> None:
    alice_id, alice_code = hotline.party("alice")
    bob_id, bob_code = hotline.party("bob")
    hotline.store.add_party("carol")
    carol_code = hotline.store.new_enrollment_code("carol")
    hotline.store.add_room("summit", ["alice", "bob", "carol"])
    alice = SignalingClient(hotline.url, alice_id, grace=GRACE, trust=accept_all())
    bob = SignalingClient(hotline.url, bob_id, grace=GRACE, trust=accept_all())
    page, problems = await _page(browser)
    try:
        for client, code in ((alice, alice_code), (bob, bob_code)):
            await client.connect()
            await client.enroll(code)
            await client.join("summit")

        query = {"mode": "room", "server": hotline.url, "room": "summit", "grace": str(GRACE)}
        await page.goto(f"{served}{PAGE}?{urlencode({**query, 'code': carol_code})}")
        await page.wait_for_function(SETTLED, timeout=20_000)
        first = await state(page)
        assert first["phase"] == "joined", first["error"]
        assert first["createdIdentity"] and first["enrolled"] and first["party"] == "carol"
        await wait_until(lambda: in_sync(page, [alice, bob]), 5.0, "three members in sync",
                         interval=0.01)

        # One group code, digits and words, on all three.
        s = await state(page)
        assert alice.code is not None and bob.code is not None
        assert s["code"]["digits"] == alice.code.digits == bob.code.digits
        assert s["code"]["words"] == alice.code.words == bob.code.words
        assert alice.names[s["participantId"]] == "carol"
        assert s["names"] == {str(alice.participant_id): "alice", str(bob.participant_id): "bob",
                              str(s["participantId"]): "carol"}
        # The keys are really held: frames cross both ways.
        await check_frames_cross(page, [alice, bob])

        # A forged key message (right public header, so the server relays it; bad
        # signature) is refused by the page, which changes nothing.
        assert alice.participant_id is not None
        forged = KeyMessage(
            room_id="summit", sender=alice.participant_id, recipient=s["participantId"],
            epoch=s["epoch"], generation=alice.keys.generation + 1,
            kid=make_kid(alice.participant_id, alice.keys.generation + 1),
            cipher_suite=DEFAULT_SUITE, sealed=os.urandom(48), signature=bytes(64))
        alice._send(m.SendKey(to=s["participantId"], data=forged.encode()))
        await wait_until(lambda: _rejected(page), 3.0, "the page to refuse the forged key",
                         interval=0.01)
        after = await state(page)
        assert [e["data"] for e in after["events"] if e["kind"] == "key_rejected"] == [
            {"reason": "bad_signature"}]
        for key in ("code", "epoch", "generation", "senderKids", "decryptionKids", "members"):
            assert after[key] == s[key], key
        await check_frames_cross(page, [alice, bob])

        # Bob leaves: the page's code follows Alice's and it rekeys within a second.
        generation = s["generation"]
        old_code = s["code"]["digits"]
        bob_context = bob.keys.context
        await bob.leave()
        took = await wait_until(lambda: in_sync(page, [alice], min_generation=generation + 1),
                                3.0, "the page to rekey after the leave", interval=0.01)
        assert took < 1.0, f"rekey took {took:.3f} s"
        s = await state(page)
        assert alice.code is not None
        assert s["code"]["digits"] == alice.code.digits != old_code
        assert s["code"]["words"] == alice.code.words
        assert s["members"] == [alice.participant_id]
        await check_frames_cross(page, [alice])
        # The leaver's keys open none of the page's new frames.
        wire = bytes.fromhex(await page.evaluate("f => window.hotlineRoomApi.encrypt(f)",
                                                 FRAME.hex()))
        with pytest.raises(SFrameError):
            unprotect(bob_context, Codec.OPUS, wire)
        kinds = [e["kind"] for e in s["events"]]
        assert "member_left" in kinds and "keys_rotated" in kinds and "group_code" in kinds
        assert kinds.count("key_rejected") == 1 and "error" not in kinds, s["events"]

        # The private key in IndexedDB cannot be exported.
        exported = await page.evaluate("""async () => {
            const db = await new Promise((ok, no) => {
              const r = indexedDB.open('hotline'); r.onsuccess = () => ok(r.result);
              r.onerror = () => no(r.error); });
            const rec = await new Promise((ok, no) => {
              const r = db.transaction('identity').objectStore('identity').get('device');
              r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
            db.close();
            let exportable = true;
            try { await crypto.subtle.exportKey('pkcs8', rec.privateKey); }
            catch { exportable = false; }
            return { extractable: rec.privateKey.extractable, exportable };
        }""")
        assert exported == {"extractable": False, "exportable": False}

        # Reload without the code: same identity, authenticated, back in the room.
        await page.goto(f"{served}{PAGE}?{urlencode({**query, 'rekey': '1'})}")
        await page.wait_for_function(SETTLED, timeout=20_000)
        again = await state(page)
        assert again["phase"] == "joined", again["error"]
        assert not again["createdIdentity"] and not again["enrolled"]
        assert again["fingerprint"] == first["fingerprint"]
        assert again["publicKey"] == first["publicKey"]
        assert again["party"] == "carol" and again["rooms"] == ["summit"]
        assert again["participantId"] != first["participantId"]
        await wait_until(lambda: in_sync(page, [alice]), 5.0, "the reloaded page in sync",
                         interval=0.01)
        await check_frames_cross(page, [alice])

        # This page rekeys every second (rekey=1): the timer alone moves it on, and Alice
        # gets each new key.
        generation = (await state(page))["generation"]
        await wait_until(lambda: in_sync(page, [alice], min_generation=generation + 2), 4.0,
                         "two timer rekeys", interval=0.01)
        timed = await state(page)
        assert timed["epoch"] == again["epoch"]  # no roster event: the timer did it
        await check_frames_cross(page, [alice])
        assert alice.rejected_key_messages == 0 and bob.rejected_key_messages == 0
        assert not problems, "\n".join(problems)
    finally:
        await page.context.close()
        await alice.close()
        await bob.close()
