"""The call page (web/src/app, served by the server at "/") in one browser context, as the
call tests drive it (test_web_call.py, test_web_controls.py, test_web_send_proof.py,
test_web_malicious_streams.py): enroll, join through the pre-join check, read its state."""

from __future__ import annotations

from typing import Any

from .support import ACCEPT_EVERY_DEVICE, enroll, watch_problems

ROOM = "summit"
NAMES = ("alice", "bob", "carol")
# The page asks for 640x480 by default; here 320x240, as a Python participant decodes
# the browsers' VP8 in the same process (and event loop) as the server and SFU, on 2 cores.
VIDEO = "320x240"


#: Page script (init scripts): every 0.1 s, the frames encoded and packets sent so far by
#: the outbound streams of the connections in ``pcs`` whose media source is a track in
#: ``real`` (ids), kept in ``sent.frames`` / ``sent.packets``.
REAL_SENT = """
  setInterval(async () => {
    let frames = 0, packets = 0;
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      const r = await pc.getStats();
      const source = {}, onMid = {};
      r.forEach((s) => { if (s.type === "media-source") source[s.id] = s.trackIdentifier; });
      // Firefox (140) gives no mediaSourceId: the track on the sender of the stream's mid
      for (const t of pc.getTransceivers()) if (t.mid !== null) onMid[t.mid] = t.sender.track?.id;
      r.forEach((s) => {
        const track = s.mediaSourceId !== undefined ? source[s.mediaSourceId] : onMid[s.mid];
        if (s.type === "outbound-rtp" && real.has(track)) {
          frames += s.framesEncoded || 0;
          packets += s.packetsSent || 0;
        }
      });
    }
    sent.frames = Math.max(sent.frames, frames);
    sent.packets = Math.max(sent.packets, packets);
  }, 100);
"""


class Page:
    """One browser participant: its page and what went wrong on it (uncaught errors, and
    with ``console`` its console errors)."""

    def __init__(self, name: str, page: Any, console: bool = False) -> None:
        self.name, self.page = name, page
        self.problems = watch_problems(page, [], console)

    async def state(self) -> dict[str, Any]:
        return await self.page.evaluate("() => window.hotlineApp")  # type: ignore[no-any-return]

    async def remote(self, name: str) -> dict[str, Any]:
        return (await self.state())["remotes"].get(name, {})  # type: ignore[no-any-return]

    async def until(self, expression: str, timeout: float = 15.0) -> None:
        await self.page.wait_for_function(expression, timeout=timeout * 1000)

    async def sent(self) -> dict[str, int]:
        """Frames the page's transform worker encrypted, per kind."""
        report = await self.page.evaluate("() => window.hotlineAppCounters()")
        assert report is not None, f"{self.name} is not in a call"
        totals = report["totals"]
        return {kind: totals.get(f"send/{kind}", {}).get("framesOut", 0)
                for kind in ("video", "audio")}


async def enrolled(browser: Any, url: str, name: str, code: str, *, init: str | None = None,
                   viewport: tuple[int, int] = (1100, 900), console: bool = False) -> Page:
    """A new context (fresh identity, every new device accepted) enrolled with ``code``,
    at the room list."""
    context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    await context.add_init_script(ACCEPT_EVERY_DEVICE)  # fresh identities: Accept each
    if init is not None:
        await context.add_init_script(init)
    p = Page(name, await context.new_page(), console)
    await enroll(p.page, url, code, ROOM, f"?video={VIDEO}")
    return p


async def join(p: Page, *, muted: bool = False) -> None:
    """Join from the room list through the pre-join check (preview, levels, devices)."""
    await p.page.get_by_role("button", name=f"Join {ROOM}").click()
    await p.page.get_by_role("button", name="Join now").wait_for()
    await p.until("() => window.hotlineApp.prejoin.ready")
    if muted:
        await p.page.get_by_label("Microphone on").uncheck()
    await p.page.get_by_role("button", name="Join now").click()
    await p.until("() => ['in-call', 'ended'].includes(window.hotlineApp.phase)", 30)
    st = await p.state()
    assert st["phase"] == "in-call", f"{p.name}: {st['error']}"
