"""Browser call set-up: join -> first decrypted and decoded frame, in headless Chromium.

A Hotline server (with its SFU and the built call page) runs in this process on loopback;
a Python participant (``anchor``, :class:`hotline.client.call.Call`) is in the room and
sends the synthetic pattern. One browser context (the call page, unchanged, with
Chromium's fake camera and microphone and the browser tests' flags) enrolls once with a
one-time code; then, without enrolling again:

* ``--joins`` times from the room list (``rejoin``): click "Join bench", the pre-join check
  opens the camera and microphone, Playwright clicks "Join now" as soon as it is enabled;
  in the call until the anchor's first frame, then Leave, back to the room list;
* ``--reloads`` times from a page load (``reload``): the page is loaded again (device key
  from IndexedDB, connect, challenge-signed login, room list), then the same clicks.

Measured inside the page (web/bench/probes.ts, injected before the page's scripts) on its
``performance.now()`` clock: the clicks are noted by a capturing listener; two probes take
the anchor's remote video track as soon as the page has it: a probe video element notes
the first frame presented for composition (``requestVideoFrameCallback``'s
``presentationTime``) and a ``MediaStreamTrackProcessor`` on a clone of the track notes
when the first decoded frame reaches the page's script. The first frame is the earlier of
the two (the presented one, nearly every time); the transform worker passes only
decrypted frames to the decoder, so that frame was decrypted and decoded. Between the
click and that frame: the join request, the call-key announcement, the key agreement (the
anchor's sender key HPKE-sealed to this page, opened in the worker), ICE, DTLS, the SFU's
subscribe offer and answer and a key frame. Also noted: when the page was "in call" and
when the tile showed the video (the page shows it after its 500 ms poll saw the worker
decrypt frames of that participant, audio or video). Must run in a loopback-only
namespace (``make bench-browser`` does that).

    scripts/in-loopback-netns.sh .venv/bin/python -m bench.browser.join --joins 20 --reloads 20
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.browser import support
from bench.common import arguments, machine, percentiles, report
from hotline.client.call import Call
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity

ROOM = "bench"
VIDEO = "320x240"  # as the browser tests: the anchor decodes the page's VP8 next to the SFU
FIRST_FRAME_TIMEOUT_MS = 20_000

#: figure -> (from mark, to mark) of web/bench/probes.ts (None: the page's navigation start)
FIGURES = {
    "join_now_to_first_frame": ("joinNowAt", "firstAt"),
    "join_room_to_first_frame": ("joinRoomAt", "firstAt"),
    "page_load_to_first_frame": (None, "firstAt"),
    "join_now_to_first_presented": ("joinNowAt", "firstFrameAt"),
    "join_now_to_first_processor_frame": ("joinNowAt", "firstDecodedAt"),
    "join_now_to_in_call": ("joinNowAt", "inCallAt"),
    "join_now_to_tile_shown": ("joinNowAt", "shownAt"),
}


def figures(marks: dict[str, Any], reload: bool) -> dict[str, float]:
    """The figures of one join from the page's marks. ``firstAt``: the earlier of the two
    first-frame probes (both see a frame that was decoded)."""
    seen = [marks[k] for k in ("firstFrameAt", "firstDecodedAt") if marks.get(k) is not None]
    marks = {**marks, "firstAt": min(seen) if seen else None}
    out = {}
    for name, (a, b) in FIGURES.items():
        if a is None and not reload:
            continue
        t0 = 0.0 if a is None else marks.get(a)
        t1 = marks.get(b)
        if t0 is not None and t1 is not None:
            out[name] = round(t1 - t0, 1)
    return out


async def one_join(page: Any, reload: bool, url: str) -> dict[str, float] | None:
    if reload:
        await page.goto(f"{url}/?video={VIDEO}")  # the init script arms the probe
    else:
        await page.evaluate("() => hotlineBench.armJoin('anchor')")
    try:
        await support.join(page, ROOM)
        await page.wait_for_function("() => hotlineBench.join.done",
                                     timeout=FIRST_FRAME_TIMEOUT_MS)
        await page.wait_for_function("() => hotlineBench.join.shownAt !== null", timeout=5_000)
    except Exception as e:  # a timeout: counted as failed, the page is loaded again
        print(f"  join failed: {str(e).splitlines()[0]}")
        await page.goto(f"{url}/?video={VIDEO}")
        await page.get_by_role("button", name=f"Join {ROOM}").wait_for(timeout=15_000)
        return None
    marks: dict[str, Any] = await page.evaluate("() => hotlineBench.join")
    await page.get_by_role("button", name="Leave").click()
    await page.wait_for_function("() => window.hotlineApp.phase === 'rooms'", timeout=10_000)
    return figures(marks, reload)


async def run(joins: int, reloads: int) -> dict[str, Any]:
    async with support.hotline_server(ROOM, ["anchor", "web"]) as (srv, codes):
        anchor = Call(srv.url, Identity.generate(), ROOM,
                      trust_policy=TrustPolicy.accept_every_device())
        await anchor.start(enroll_code=codes["anchor"])
        problems: list[str] = []
        try:
            async with support.chromium(support.MEDIA_ARGS) as browser:
                armed = support.probes_script("hotlineBench.armJoin('anchor')")
                page = await support.open_page(browser, problems, armed)
                await support.enroll(page, srv.url, codes["web"], ROOM, f"?video={VIDEO}")
                out: dict[str, Any] = {"chromium": browser.version, "video": VIDEO}
                for mode, n in (("rejoin", joins), ("reload", reloads)):
                    samples: list[dict[str, float]] = []
                    failed = 0
                    for i in range(n):
                        got = await one_join(page, mode == "reload", srv.url)
                        if got is None:
                            failed += 1
                        else:
                            samples.append(got)
                            print(f"  {mode} {i + 1}/{n}: {got}")
                        await asyncio.sleep(0.5)
                    names = sorted({k for s in samples for k in s})
                    out[mode] = {"joins": n, "failed": failed,
                                 "figures_ms": {k: percentiles([s[k] for s in samples if k in s])
                                                for k in names},
                                 "samples_ms": samples}
        finally:
            await anchor.close()
    out["page_problems"] = problems[:20]
    return out


ROWS = [("rejoin", "join_now_to_first_frame", "rejoin from the room list: Join now → first frame"),
        ("rejoin", "join_room_to_first_frame",
         "rejoin from the room list: Join room → first frame (pre-join check included)"),
        ("rejoin", "join_now_to_first_presented",
         "rejoin: Join now → first frame presented (requestVideoFrameCallback)"),
        ("rejoin", "join_now_to_first_processor_frame",
         "rejoin: Join now → first decoded frame read by MediaStreamTrackProcessor"),
        ("rejoin", "join_now_to_in_call", "rejoin: Join now → page in call"),
        ("rejoin", "join_now_to_tile_shown",
         "rejoin: Join now → tile no longer \"waiting for keys\" (page's 500 ms poll)"),
        ("reload", "page_load_to_first_frame",
         "after a page load: navigation start → first frame (login, room list, pre-join)"),
        ("reload", "join_now_to_first_frame", "after a page load: Join now → first frame")]
HEADERS = ["what", "joins", "failed", "p50 ms", "p95 ms", "max ms"]


def table_rows(res: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for mode, key, label in ROWS:
        r = res.get(mode)
        if not r:
            continue
        p = r["figures_ms"].get(key) or {}
        rows.append([label, r["joins"], r["failed"], p.get("p50"), p.get("p95"), p.get("max")])
    return rows


def main() -> None:
    a = arguments(__doc__, joins=20, reloads=20)
    m = machine()  # the load average at the start
    res = asyncio.run(run(a.joins, a.reloads))
    report("\nBrowser (Chromium) join -> first decrypted and decoded frame of a Python "
           "participant, loopback:", HEADERS, table_rows(res), "browser_join",
           {"machine": m, **res})


if __name__ == "__main__":
    main()
