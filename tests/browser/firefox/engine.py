"""Debian's Firefox ESR for the browser tests, with the part of Playwright's async ``Page``
API that the page helpers use (tests/browser/callpage.py, support.py), so that they drive
both engines.

Playwright cannot drive a stock Firefox; WebDriver BiDi can. ``driver.mjs`` (Node,
npm ``puppeteer-core`` from web/node_modules) runs the browser and answers JSON lines; this
module starts it and offers ``Firefox`` (``new_context``), ``Context`` (``add_init_script``,
``new_page``), ``FirefoxPage`` (``goto``, ``reload``, ``evaluate``, ``wait_for_function``,
``screenshot``, ``on("console" | "pageerror")``, locators) and ``Locator`` (CSS, role,
label and text, as Playwright's: ``click``, ``fill``, ``check``, ``uncheck``, ``wait_for``,
``inner_text``, ``count``, ``evaluate_all``, ``bounding_box``, ``is_visible``, ``all``).

Differences from Playwright, on purpose small: ``click`` and ``fill`` act through the DOM
(``element.click()``, the value and its input/change events), not synthesized mouse and
keyboard input; a role is one of button, checkbox, link.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ..support import WEB, check_app_bundle

DRIVER = Path(__file__).with_name("driver.mjs")
PUPPETEER = WEB / "node_modules" / "puppeteer-core"
FIREFOX = os.environ.get("HOTLINE_FIREFOX", "/usr/bin/firefox-esr")
#: Fake camera and microphone without a prompt, real host candidates (not mDNS names:
#: the SFU cannot resolve them), autoplay, and nothing that calls home.
MEDIA_PREFS: dict[str, Any] = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "network.dns.disableIPv6": True,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
}
#: Reported by Firefox 140's remote agent as errors of a page that has init scripts
#: (BiDi preload scripts), now and then, with no stack and no error event in the page
#: (an ``error`` listener of the page does not see it): not the page's own errors.
AGENT_ERRORS = {'Error: Permission denied to access property "length"'}
#: Playwright's default for actions and waits.
TIMEOUT_MS = 30_000


class DriverError(RuntimeError):
    """The driver (or the browser) reported an error for a request."""


class Driver:
    """The Node process and its JSON-line requests."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process, self.log = process, log
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self.handlers: dict[tuple[int, str], list[Callable[[Any], None]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            if "event" in message:
                for handler in self.handlers.get((message["page"], message["event"]), []):
                    handler(SimpleNamespace(type=message.get("type"), text=message["text"]))
                continue
            future = self._pending.pop(message["id"], None)
            if future is None or future.done():
                continue
            if "error" in message:
                future.set_exception(DriverError(message["error"]))
            else:
                future.set_result(message["result"])
        for future in self._pending.values():
            if not future.done():
                future.set_exception(DriverError(f"the Firefox driver exited: {self.tail()}"))

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    async def call(self, op: str, timeout_ms: float = TIMEOUT_MS, **args: Any) -> Any:
        assert self.process.stdin is not None
        self._next += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next] = future
        self.process.stdin.write(json.dumps({"id": self._next, "op": op, **args}).encode() + b"\n")
        await self.process.stdin.drain()
        try:
            return await asyncio.wait_for(future, timeout_ms / 1000 + 10)
        except TimeoutError:
            raise DriverError(f"Firefox driver: no answer to {op}") from None

    async def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self._reader


class Firefox:
    """A running Firefox ESR (see :func:`firefox`)."""

    def __init__(self, driver: Driver, version: str) -> None:
        self.driver, self.version = driver, version

    async def new_context(self, viewport: dict[str, int] | None = None) -> Context:
        return Context(self.driver, await self.driver.call("newContext", viewport=viewport))


@contextlib.asynccontextmanager
async def firefox(prefs: dict[str, Any] | None = None,
                  executable: str = FIREFOX) -> AsyncIterator[Firefox]:
    """Firefox (headless, a fresh profile) with ``MEDIA_PREFS`` and ``prefs`` while the
    block runs, after checking that it, puppeteer-core and the call page are there."""
    if not os.access(executable, os.X_OK):
        pytest.fail(f"no Firefox at {executable}: install it (as root: apt-get install "
                    "firefox-esr; `make test` does this) or set HOTLINE_FIREFOX")
    if not PUPPETEER.is_dir():
        pytest.fail("npm puppeteer-core is missing from web/node_modules: run `make setup`")
    check_app_bundle()
    log = Path(tempfile.mkstemp(prefix="hotline-firefox-", suffix=".log")[1])
    options = {"executable": executable, "prefs": {**MEDIA_PREFS, **(prefs or {})}}
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            "node", str(DRIVER), json.dumps(options), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=err, limit=64 * 1024 * 1024)
    assert process.stdout is not None
    try:
        first = await asyncio.wait_for(process.stdout.readline(), 60)
    except TimeoutError:
        process.kill()
        raise
    if not first:
        await process.wait()
        raise DriverError(f"Firefox did not start: {log.read_text(errors='replace')[-3000:]}")
    driver = Driver(process, log)
    try:
        yield Firefox(driver, json.loads(first)["ready"])
    finally:
        await driver.close()
        log.unlink(missing_ok=True)


class Context:
    """A browser context (its own storage: IndexedDB identity, cookies)."""

    def __init__(self, driver: Driver, context_id: int) -> None:
        self.driver, self.id = driver, context_id

    async def add_init_script(self, script: str) -> None:
        await self.driver.call("addInitScript", context=self.id, source=script)

    async def new_page(self) -> FirefoxPage:
        return FirefoxPage(self.driver, await self.driver.call("newPage", context=self.id))

    async def close(self) -> None:
        await self.driver.call("closeContext", context=self.id)


_FUNCTION = re.compile(r"^\s*(async\s+)?(function\b|\(|[A-Za-z_$][\w$]*\s*=>)")


def _expression(source: str, arg: Any = None) -> str:
    """Playwright's ``evaluate`` argument as one expression: a function is called with
    ``arg``, anything else is evaluated."""
    if not _FUNCTION.match(source):
        return f"({source})"
    return f"((f) => typeof f === 'function' ? f({json.dumps(arg)}) : f)({source})"


class FirefoxPage:
    def __init__(self, driver: Driver, page_id: int) -> None:
        self.driver, self.id = driver, page_id

    def on(self, event: str, handler: Callable[[Any], None]) -> None:
        """``console`` (the message has ``type`` and ``text``) or ``pageerror`` (its
        ``str`` is the message)."""
        if event == "pageerror":
            self.driver.handlers.setdefault((self.id, event), []).append(
                lambda m: None if m.text in AGENT_ERRORS else handler(m.text))
        else:
            self.driver.handlers.setdefault((self.id, event), []).append(handler)

    async def goto(self, url: str) -> None:
        await self.driver.call("goto", page=self.id, url=url)

    async def reload(self) -> None:
        await self.driver.call("reload", page=self.id)

    async def evaluate(self, source: str, arg: Any = None) -> Any:
        return await self.driver.call("evaluate", page=self.id,
                                      expression=_expression(source, arg))

    async def wait_for_function(self, source: str, arg: Any = None,
                                timeout: float = TIMEOUT_MS) -> Any:
        return await self.driver.call("waitFor", timeout_ms=timeout, page=self.id,
                                      expression=_expression(source, arg), timeout=timeout)

    async def screenshot(self, path: str, full_page: bool = False) -> None:
        await self.driver.call("screenshot", page=self.id, path=path, fullPage=full_page)

    def locator(self, css: str) -> Locator:
        return Locator(self, [{"css": css}])

    def get_by_role(self, role: str, name: str | None = None, exact: bool = False) -> Locator:
        return Locator(self, [{"role": role, "name": name, "exact": exact}])

    def get_by_label(self, text: str, exact: bool = False) -> Locator:
        return Locator(self, [{"label": text, "exact": exact}])

    def get_by_text(self, text: str, exact: bool = False) -> Locator:
        return Locator(self, [{"text": text, "exact": exact}])


#: Resolves a locator's steps to elements, as Playwright's locators do (names and text
#: match case-insensitively as substrings unless exact; roles leave hidden elements out).
_FIND = """(steps) => {
  const norm = (s) => (s || "").replace(/\\s+/g, " ").trim();
  const has = (text, want, exact) => exact ? norm(text) === norm(want)
    : norm(text).toLowerCase().includes(norm(want).toLowerCase());
  const shown = (e) => !e.closest("[hidden]") && (e.checkVisibility ? e.checkVisibility()
    : e.getClientRects().length > 0);
  const roles = {
    button: "button, [role=button], input[type=button], input[type=submit]",
    checkbox: "input[type=checkbox], [role=checkbox]",
    link: "a[href], [role=link]",
  };
  const name = (e) => {
    if (e.getAttribute("aria-label")) return e.getAttribute("aria-label");
    const by = e.getAttribute("aria-labelledby");
    if (by) {
      return by.split(/\\s+/).map((id) => document.getElementById(id)?.textContent || "")
        .join(" ");
    }
    if (e.labels && e.labels.length) return [...e.labels].map((l) => l.textContent).join(" ");
    return e.textContent || e.value || e.title || "";
  };
  const step = (root, s) => {
    if (s.css) return [...root.querySelectorAll(s.css)];
    if (s.role) return [...root.querySelectorAll(roles[s.role])]
      .filter((e) => shown(e) && (s.name == null || has(name(e), s.name, s.exact)));
    if (s.label != null) {
      const out = [];
      for (const l of root.querySelectorAll("label")) {
        if (l.control && has(l.textContent, s.label, s.exact)) out.push(l.control);
      }
      for (const e of root.querySelectorAll("[aria-label]")) {
        if (has(e.getAttribute("aria-label"), s.label, s.exact)) out.push(e);
      }
      return [...new Set(out)];
    }
    return [...root.querySelectorAll("body *")].filter((e) =>
      !["SCRIPT", "STYLE"].includes(e.tagName) && has(e.textContent, s.text, s.exact)
      && ![...e.children].some((c) => has(c.textContent, s.text, s.exact)));
  };
  let found = [document];
  for (const s of steps) {
    if (s.nth != null) { const e = found.at(s.nth); found = e ? [e] : []; continue; }
    found = [...new Set(found.flatMap((r) => step(r, s)))];
  }
  return found;
}"""


def _on_elements(steps: list[dict[str, Any]], body: str) -> str:
    """A function of ``arg`` that runs ``body`` with ``els`` (the elements found)."""
    return f"(arg) => {{ const els = ({_FIND})({json.dumps(steps)}); {body} }}"


_ONE = """
  const shown = (e) => !e.closest("[hidden]") && (e.checkVisibility ? e.checkVisibility()
    : e.getClientRects().length > 0);
  if (els.length > 1) return {strict: els.length};
  const el = els[0];
  if (!el || (arg.visible && !shown(el)) || (arg.enabled && el.disabled)) return null;
"""

_ACTIONS = {
    "click": "el.scrollIntoView({block: 'center'}); el.click(); return {ok: true};",
    "fill": """el.focus(); el.value = arg.value;
      el.dispatchEvent(new Event('input', {bubbles: true}));
      el.dispatchEvent(new Event('change', {bubbles: true})); return {ok: true};""",
    "check": "if (!el.checked) el.click(); return {ok: el.checked === true};",
    "uncheck": "if (el.checked) el.click(); return {ok: el.checked === false};",
    "wait": "return {ok: true};",
    "inner_text": "return {ok: el.innerText};",
    "bounding_box": """const r = el.getBoundingClientRect();
      return {ok: {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}};""",
}


class Locator:
    def __init__(self, page: FirefoxPage, steps: list[dict[str, Any]]) -> None:
        self.page, self.steps = page, steps

    def _then(self, step: dict[str, Any]) -> Locator:
        return Locator(self.page, [*self.steps, step])

    def locator(self, css: str) -> Locator:
        return self._then({"css": css})

    def get_by_role(self, role: str, name: str | None = None, exact: bool = False) -> Locator:
        return self._then({"role": role, "name": name, "exact": exact})

    def get_by_text(self, text: str, exact: bool = False) -> Locator:
        return self._then({"text": text, "exact": exact})

    def nth(self, index: int) -> Locator:
        return self._then({"nth": index})

    @property
    def first(self) -> Locator:
        return self.nth(0)

    async def _act(self, action: str, timeout: float = TIMEOUT_MS, **arg: Any) -> Any:
        """Wait until exactly one element matches (visible, and enabled for actions), then
        do ``action`` on it in the page."""
        arg.setdefault("visible", True)
        arg.setdefault("enabled", action in ("click", "fill", "check", "uncheck"))
        source = _on_elements(self.steps, _ONE + _ACTIONS[action])
        try:
            out = await self.page.wait_for_function(source, arg, timeout=timeout)
        except DriverError as e:
            raise DriverError(f"{action} on {self.steps}: {e}") from None
        if "strict" in out:
            raise DriverError(f"{action}: {self.steps} matches {out['strict']} elements")
        return out["ok"]

    async def click(self, timeout: float = TIMEOUT_MS) -> None:
        await self._act("click", timeout)

    async def fill(self, value: str, timeout: float = TIMEOUT_MS) -> None:
        await self._act("fill", timeout, value=value)

    async def check(self, timeout: float = TIMEOUT_MS) -> None:
        await self._act("check", timeout)

    async def uncheck(self, timeout: float = TIMEOUT_MS) -> None:
        await self._act("uncheck", timeout)

    async def wait_for(self, timeout: float = TIMEOUT_MS, state: str = "visible") -> None:
        await self._act("wait", timeout, visible=state == "visible")

    async def inner_text(self, timeout: float = TIMEOUT_MS) -> str:
        return str(await self._act("inner_text", timeout, visible=False))

    async def bounding_box(self, timeout: float = TIMEOUT_MS) -> dict[str, float] | None:
        box: dict[str, float] = await self._act("bounding_box", timeout, visible=False)
        return box if box["width"] > 0 or box["height"] > 0 else None

    async def count(self) -> int:
        return int(await self.page.evaluate(_on_elements(self.steps, "return els.length;")))

    async def is_visible(self) -> bool:
        return bool(await self.page.evaluate(_on_elements(
            self.steps, "return els.length === 1 && !els[0].closest('[hidden]') && "
            "els[0].getClientRects().length > 0;")))

    async def evaluate_all(self, source: str, arg: Any = None) -> Any:
        return await self.page.evaluate(_on_elements(
            self.steps, f"return ({source})(els, arg);"), arg)

    async def all(self) -> list[Locator]:
        return [self.nth(i) for i in range(await self.count())]
