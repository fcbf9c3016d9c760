"""Interpretation channels in the browser call page: a Chromium listener picks a channel,
sets the floor's level and mutes it, with the keyboard and the page's own controls, and
what the page sends to its speakers is measured.

The room has the channels ``ru`` and ``zh``. Three Python participants send a tone each
(a WAV file, audio only): a delegate on the floor (440 Hz), an interpreter into ``ru``
(1000 Hz) and one into ``zh`` (1900 Hz). The listener is an aide (listens only) in
Chromium. An init script of the test (never part of the page) taps every node the page
connects to its AudioContext's destination into an AnalyserNode: the level of each tone in
the page's audio output is read from its spectrum, averaged over a window.

What is proved:

- listening to ``ru`` the page plays ru's tone and not zh's: the cross-leak (zh's tone
  while listening to ru, against zh's tone while listening to zh) is below -40 dB, and the
  other way round; the figures are printed;
- the floor, ducked to -20 dB with the keyboard (#floor-level: End, then 20 x ArrowLeft),
  is 20 dB (± 2) below its level at 0 dB (measured with the floor alone; under a channel
  it stays more than 15 dB down, the channel's own codec noise filling in below that);
- switching to ``zh`` changes the output at once (the time until zh's tone is up and ru's
  is gone is printed, and must stay under 2 s on a loaded 2-core machine);
- muting the floor (#floor-mute) silences it: its tone falls by more than 40 dB;
- a server that forwards a channel the page did not choose (the test tells the SFU so,
  behind the page's back) is not heard: ru's packets arrive, its tone stays more than
  40 dB below its level when chosen;
- the tiles and the participant list show each interpreter's channel.

Needs ``make web`` and the loopback-only namespace.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.crypto.identity import Identity
from hotline.server.app import STATE

from ..support.server import Server, running_server
from ..support.trust import accept_all
from ..support.wait import wait_until
from .callpage import ROOM, Page, enrolled, join
from .support import MEDIA_ARGS, browser_fixture, check_app_bundle

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

browser = browser_fixture(MEDIA_ARGS, check_app_bundle)

FLOOR_HZ, RU_HZ, ZH_HZ = 440, 1000, 1900
TONES = {"floor": FLOOR_HZ, "ru": RU_HZ, "zh": ZH_HZ}
ROLES = {"listener": "aide", "speaker": "delegate", "interp-ru": "interpreter",
         "interp-zh": "interpreter"}

#: Test script: every node connected to an AudioContext's destination is connected to an
#: analyser of that context as well; ``__levels(freqs)`` reads, over ``reads`` spectra
#: ``gap`` ms apart, the mean power (dB) of the strongest bin within ±3 bins of each
#: frequency in what went to the destination of the last context made.
TAP = """
(() => {
  const connect = AudioNode.prototype.connect;
  const taps = [];
  AudioNode.prototype.connect = function (dest, ...rest) {
    if (dest instanceof AudioDestinationNode) {
      let tap = taps.find((t) => t.context === dest.context);
      if (tap === undefined) {
        tap = dest.context.createAnalyser();
        tap.fftSize = 8192;
        tap.smoothingTimeConstant = 0;
        taps.push(tap);
      }
      connect.call(this, tap);
    }
    return connect.call(this, dest, ...rest);
  };
  window.__levels = async (freqs, reads, gap) => {
    const tap = taps[taps.length - 1];
    if (tap === undefined) return null;
    const data = new Float32Array(tap.frequencyBinCount);
    const hz = tap.context.sampleRate / tap.fftSize;
    const sums = freqs.map(() => 0);
    for (let r = 0; r < reads; r++) {
      tap.getFloatFrequencyData(data);
      freqs.forEach((f, i) => {
        const b = Math.round(f / hz);
        let best = 0;
        for (let k = b - 3; k <= b + 3; k++) best = Math.max(best, 10 ** (data[k] / 10));
        sums[i] += best;
      });
      if (r + 1 < reads) await new Promise((ok) => setTimeout(ok, gap));
    }
    return freqs.map((f, i) => 10 * Math.log10(sums[i] / reads + 1e-30));
  };
})();
"""


def tone_wav(path: Path, hz: int, seconds: float = 2.0) -> Path:
    """A mono 48 kHz tone of ``hz`` (whole periods, so that it loops without a click)."""
    rate = 48000
    n = int(rate * seconds)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
                               for i in range(n)))
    return path


@pytest_asyncio.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    async with running_server(tmp_path / "data", join_timeout=5.0) as srv:
        codes = srv.room(ROOM, list(ROLES), ROLES)
        srv.store.set_room_channels(ROOM, ["ru", "zh"])
        yield srv, codes


async def until(page: Page, expression: str, timeout: float) -> None:
    try:
        await page.until(expression, timeout)
    except Exception as e:
        raise AssertionError(f"{expression}: {e}; page state {await page.state()}") from None


async def levels(page: Page, reads: int = 10, gap: int = 100) -> dict[str, float]:
    got = await page.page.evaluate("([f, r, g]) => window.__levels(f, r, g)",
                                   [list(TONES.values()), reads, gap])
    assert got is not None, "the page connected nothing to its speakers"
    return dict(zip(TONES, got, strict=True))


async def choose(page: Page, channel: str) -> None:
    await page.page.get_by_label("Listen to").select_option(channel)


def show(lv: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f} dB" for k, v in lv.items())


async def test_channel_picker_floor_level_and_mute(
        hotline: tuple[Server, dict[str, str]], browser: Any, tmp_path: Path) -> None:
    srv, codes = hotline
    calls: list[Call] = []
    try:
        for name, tone, channel in (("speaker", FLOOR_HZ, ""), ("interp-ru", RU_HZ, "ru"),
                                    ("interp-zh", ZH_HZ, "zh")):
            call = Call(srv.url, Identity.generate(), ROOM, trust_policy=accept_all(),
                        media_file=tone_wav(tmp_path / f"{name}.wav", tone), channel=channel)
            calls.append(call)
            await call.start(enroll_code=codes[name])

        listener = await enrolled(browser, srv.url, "listener", codes["listener"], init=TAP,
                                  console=True)
        await listener.page.get_by_role("button", name=f"Join {ROOM}").click()
        await listener.until("() => window.hotlineApp.phase === 'in-call'", 30)
        # the floor admitted (its E2EE check passed) and played; each interpreter's channel
        # known (the SFU forwards a channel only to its listeners: none yet)
        await until(listener, "() => { const r = window.hotlineApp.remotes; return "
                    "r.speaker?.gain === 1 && r['interp-ru']?.channel === 'ru' && "
                    "r['interp-zh']?.channel === 'zh'; }", 40)
        page = listener.page
        assert await page.locator("#interpretation").is_visible()
        options = await page.locator("#channel-picker option").evaluate_all(
            "os => os.map(o => o.value)")
        assert options == ["", "ru", "zh"], options
        assert await page.locator("#interpret-row").is_hidden()  # not an interpreter
        assert "into ru" in await page.locator(".tile[data-party='interp-ru']").inner_text()
        assert "into zh" in await page.locator("#participants").inner_text()
        # not forwarded to a listener of the floor, and said so (not "waiting for keys")
        await page.get_by_text("interprets into ru: not listened to").wait_for()

        # -- the floor only: the floor's tone, no channel ---------------------------------
        async def floor_playing() -> bool:
            lv = await levels(listener, 3, 50)
            return lv["floor"] > -70
        await wait_until(floor_playing, 20, "the floor's tone in the page's output")
        floor_only = await levels(listener)

        # -- the floor ducked to -20 dB with the keyboard: its tone 20 dB down -------------
        level = page.get_by_label("Floor level")
        await level.focus()
        await page.keyboard.press("End")
        for _ in range(20):
            await page.keyboard.press("ArrowLeft")
        assert await level.input_value() == "-20"
        assert (await listener.state())["listening"]["floorDb"] == -20
        assert await page.locator("#floor-level-value").inner_text() == "-20 dB"
        async def ducked_to(db: float) -> bool:  # once the analyser's window saw it
            lv = await levels(listener, 3, 50)
            return abs(lv["floor"] - floor_only["floor"] - db) <= 2
        await wait_until(lambda: ducked_to(-20), 5, "the floor 20 dB down")
        floor_20db = await levels(listener)
        ducked = floor_20db["floor"] - floor_only["floor"]
        assert abs(ducked + 20) <= 2, (show(floor_only), show(floor_20db))

        # -- ru, the floor still at -20 dB: ru's tone and not zh's -----------------------
        await choose(listener, "ru")

        async def hears(channel: str, other: str) -> bool:
            lv = await levels(listener, 3, 50)
            return lv[channel] > -70 and lv[other] < lv[channel] - 40
        await wait_until(lambda: hears("ru", "zh"), 20, "ru's tone and not zh's")
        ru = await levels(listener)
        # the floor stays ducked under ru (within what ru's own codec noise adds there)
        assert ru["floor"] < floor_only["floor"] - 15, (show(floor_only), show(ru))

        # -- switch to zh: at once -----------------------------------------------------------
        switched = time.monotonic()
        await choose(listener, "zh")
        await wait_until(lambda: hears("zh", "ru"), 10, "zh's tone and not ru's")
        switch_s = time.monotonic() - switched
        zh = await levels(listener)
        leak_zh_in_ru = ru["zh"] - zh["zh"]  # zh's tone while on ru, against on zh
        leak_ru_in_zh = zh["ru"] - ru["ru"]
        assert leak_zh_in_ru < -40, (show(ru), show(zh))
        assert leak_ru_in_zh < -40, (show(ru), show(zh))
        assert switch_s < 2.0, switch_s
        st = await listener.state()
        assert st["remotes"]["interp-ru"]["gain"] == 0 and st["remotes"]["interp-zh"]["gain"] == 1

        # -- back to ru (both already heard once): at once --------------------------------
        switched = time.monotonic()
        await choose(listener, "ru")
        await wait_until(lambda: hears("ru", "zh"), 10, "ru's tone again and not zh's")
        back_s = time.monotonic() - switched
        assert back_s < 2.0, back_s
        await choose(listener, "zh")
        await wait_until(lambda: hears("zh", "ru"), 10, "zh's tone again")

        # -- mute the floor -----------------------------------------------------------------
        await page.get_by_label("Mute the floor").check()
        assert (await listener.state())["listening"]["floorDb"] is None

        async def floor_silent() -> bool:
            lv = await levels(listener, 3, 50)
            return lv["floor"] < floor_only["floor"] - 40
        await wait_until(floor_silent, 5, "the floor silent")
        muted = await levels(listener)
        assert muted["floor"] < floor_only["floor"] - 40, (show(floor_only), show(muted))
        assert muted["zh"] > -70, show(muted)

        # -- a server that forwards ru behind the page's back: received, not played --------
        sfu = srv.app[STATE].sfu
        me = st["participantId"]
        ru_pid = calls[1].signaling.participant_id
        copy = next(c for s, c in sfu.participants(ROOM)[me].subscribed.items()
                    if s.publisher == ru_pid and s.kind == "audio")
        packets = (await listener.remote("interp-ru"))["audioPacketsReceived"]
        sfu.set_channels(ROOM, me, listening=frozenset({"ru", "zh"}))

        async def ru_arrives() -> bool:
            r = await listener.remote("interp-ru")
            return int(r["audioPacketsReceived"]) > packets + 50
        await wait_until(ru_arrives, 10, "ru's packets at the page")
        assert copy in copy.stream.copies  # the SFU forwards it
        lied = await levels(listener)
        filtered = lied["ru"] - ru["ru"]  # ru's tone now, against ru's tone when chosen
        assert filtered < -40, (show(ru), show(lied))
        assert not listener.problems, listener.problems
        print(f"\nfloor only: {show(floor_only)}\nfloor at -20 dB: {show(floor_20db)} "
              f"(floor {ducked:+.1f} dB)\nru, floor -20 dB: {show(ru)}\n"
              f"zh: {show(zh)}\nfloor muted: {show(muted)}\n"
              f"cross-leak: zh into ru {leak_zh_in_ru:.1f} dB, ru into zh {leak_ru_in_zh:.1f} dB;"
              f" switch ru -> zh heard after {switch_s * 1000:.0f} ms (zh's first time), "
              f"zh -> ru after {back_s * 1000:.0f} ms; muted floor "
              f"{muted['floor'] - floor_only['floor']:.1f} dB; ru forwarded behind the page's "
              f"back: {show(lied)} (ru {filtered:.1f} dB)")
    finally:
        for call in calls:
            await call.close()


async def test_an_interpreter_page_picks_its_channel(
        hotline: tuple[Server, dict[str, str]], browser: Any) -> None:
    """An interpreter's page publishes into the channel its #interpret-channel names: the
    server tells the room (member_channel), a Python listener of another channel stops
    receiving its audio, and receives and decrypts it again once it listens to that
    channel; the page shows its own channel in its line."""
    srv, codes = hotline
    listener = Call(srv.url, Identity.generate(), ROOM, trust_policy=accept_all(), listen=["ru"])
    try:
        await listener.start(enroll_code=codes["listener"])
        interp = await enrolled(browser, srv.url, "interp-zh", codes["interp-zh"], console=True)
        await join(interp)
        page = interp.page
        await page.locator("#interpret-row").wait_for()
        choice = page.get_by_label("I interpret into")
        assert await choice.evaluate("s => [...s.options].map(o => o.value)") == ["", "ru", "zh"]
        pid = (await interp.state())["participantId"]
        names = listener.signaling.names

        async def decrypted() -> int:
            got: int = listener.stats().remote.get("interp-zh", {}).get(
                "audio_frames_decrypted", 0)
            return got

        await wait_until(lambda: _true(names.get(pid) == "interp-zh"), 20, "the page joined")

        async def on_the_floor() -> bool:  # its audio is floor until it picks a channel
            return await decrypted() > 50
        await wait_until(on_the_floor, 20, "the listener decrypting the page's floor audio")
        await choice.select_option("zh")
        await until(interp, "() => window.hotlineApp.listening.interpreting === 'zh'", 10)
        assert "into zh" in await page.locator("#participant-self").inner_text()
        await wait_until(lambda: _true(listener.interpretation.member_channel.get(pid) == "zh"),
                         10, "member_channel at the listener")
        await asyncio.sleep(0.5)  # what was on its way
        stalled = await decrypted()
        await asyncio.sleep(1.5)
        assert await decrypted() - stalled <= 2, "zh's audio reached a listener of ru"
        before = await decrypted()
        await listener.listen(["zh"])

        async def receiving() -> bool:
            return await decrypted() > before + 50  # 1 s of audio in zh, decrypted
        await wait_until(receiving, 20, "the listener decrypting the page's audio in zh")

        await choice.select_option("")
        await wait_until(lambda: _true(listener.interpretation.member_channel.get(pid) == ""),
                         10, "the interpreter back on the floor")
        assert (await interp.state())["listening"]["interpreting"] == ""
        assert not interp.problems, interp.problems
    finally:
        await listener.close()


async def _true(value: bool) -> bool:
    return value
