"""The Firefox engine of the browser tests (tests/browser/firefox/engine.py) on a small
static page: its Playwright-like locators find what Playwright's would (roles by name,
labels, text, CSS chains), act on exactly one element, and time out with a clear error;
evaluate takes expressions and functions with an argument; the page's console messages
and uncaught errors arrive; a screenshot is a PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from .firefox.engine import DriverError, firefox
from .support import serve_static

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

PAGE = """<!doctype html><meta charset="utf-8"><title>engine</title>
<form id="f"><label>Enrollment code <input id="code"></label>
<label><input type="checkbox" id="mic" checked> Microphone on</label>
<button type="button" id="go" onclick="window.clicked = (window.clicked || 0) + 1">Enroll</button>
<button type="button" aria-label="Join summit">J</button>
<button type="button" hidden>Join summit</button>
<button type="button">Leave</button><button type="button">Leave</button></form>
<ul id="list"><li>one</li><li>two</li><li>three</li></ul>
<p id="late" hidden>later</p>
<script>
  const code = document.getElementById("code");
  code.addEventListener("input", (e) => { window.typed = e.target.value; });
  console.log("hello from the page");
  setTimeout(() => { throw new Error("uncaught on purpose"); }, 10);
  setTimeout(() => { document.getElementById("late").hidden = false; }, 300);
</script>"""


async def test_locators_evaluate_events_and_screenshot(tmp_path: Path) -> None:
    (tmp_path / "engine.html").write_text(PAGE)
    with serve_static(tmp_path, ("/engine.html",)) as url:
        async with firefox() as ff:
            page = await (await ff.new_context()).new_page()
            console: list[str] = []
            errors: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{url}/engine.html")
            assert await page.evaluate("document.title") == "engine"
            assert await page.evaluate("(x) => x.a + 1", {"a": 41}) == 42
            assert await page.evaluate("async () => 7") == 7
            # roles by accessible name (substring, any case), hidden ones left out
            await page.get_by_role("button", name="enroll").click()
            assert await page.evaluate("() => window.clicked") == 1
            await page.get_by_role("button", name="Join summit").wait_for()
            with pytest.raises(DriverError, match="matches 2 elements"):
                await page.get_by_role("button", name="Leave").click(timeout=2000)
            # labels: fill fires input; check and uncheck a checkbox
            await page.get_by_label("Enrollment code").fill("ABC")
            assert await page.evaluate("() => window.typed") == "ABC"
            await page.get_by_label("Microphone on").uncheck()
            assert await page.evaluate("() => document.getElementById('mic').checked") is False
            # CSS chains, nth, counts, text
            items = page.locator("#list").locator("li")
            assert await items.count() == 3
            assert await items.nth(1).inner_text() == "two"
            assert await items.evaluate_all("els => els.map(e => e.textContent)") == \
                ["one", "two", "three"]
            assert len(await items.all()) == 3
            await page.get_by_text("later").wait_for(timeout=5000)  # shown after 0.3 s
            box = await items.first.bounding_box()
            assert box is not None and box["width"] > 0 and box["height"] > 0
            with pytest.raises(DriverError, match="timeout"):
                await page.get_by_role("button", name="Nowhere").click(timeout=500)
            await page.wait_for_function("() => window.__never === undefined")
            shot = tmp_path / "engine.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert "log: hello from the page" in console, console
            assert any("uncaught on purpose" in e for e in errors), errors
