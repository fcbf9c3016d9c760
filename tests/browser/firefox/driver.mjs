// Drives Debian's Firefox ESR over WebDriver BiDi (npm puppeteer-core, from web/node_modules)
// for the Python tests (tests/browser/firefox/engine.py). One JSON object a line:
//   stdin:  {"id": N, "op": "...", ...arguments}
//   stdout: {"id": N, "result": ...} or {"id": N, "error": "..."},
//           and events {"event": "console"|"pageerror", "page": P, "type": ..., "text": ...}
// argv[2]: JSON {"executable": path, "prefs": {...}}. The browser closes when stdin ends.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(new URL("../../../web/package.json", import.meta.url));
const puppeteer = require("puppeteer-core");

const options = JSON.parse(process.argv[2] ?? "{}");
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");

const browser = await puppeteer.launch({
  browser: "firefox",
  protocol: "webDriverBiDi",
  executablePath: options.executable,
  headless: true,
  // Firefox 140 has no emulation.setScreenOrientationOverride, which puppeteer's
  // setViewport sends: the window has the size instead (the contexts' viewport is ignored).
  defaultViewport: null,
  args: ["--window-size=1100,900"],
  extraPrefsFirefox: options.prefs ?? {},
});
const contexts = new Map(); // id -> {context, scripts: [source]}
const pages = new Map(); // id -> page
let next = 1;

// An expression whose value is sent as JSON (undefined as null), awaited if a promise.
const asJson = (expression) =>
  `(async () => { const v = await (${expression}); return v === undefined ? "null" : JSON.stringify(v); })()`;

async function evaluate(page, expression) {
  return JSON.parse(await page.evaluate(asJson(expression)));
}

const ops = {
  async version() {
    return await browser.version();
  },
  async newContext() {
    const id = next++;
    contexts.set(id, { context: await browser.createBrowserContext(), scripts: [] });
    return id;
  },
  async addInitScript({ context, source }) {
    const c = contexts.get(context);
    c.scripts.push(source);
    for (const [, page] of pages) {
      if (page.browserContext() === c.context) await page.evaluateOnNewDocument(source);
    }
    return null;
  },
  async newPage({ context }) {
    const c = contexts.get(context);
    const page = await c.context.newPage();
    const id = next++;
    pages.set(id, page);
    page.on("console", (m) => send({ event: "console", page: id, type: m.type(), text: m.text() }));
    page.on("pageerror", (e) => send({ event: "pageerror", page: id, text: String(e?.message ?? e) }));
    for (const source of c.scripts) await page.evaluateOnNewDocument(source);
    return id;
  },
  async goto({ page, url }) {
    await pages.get(page).goto(url, { waitUntil: "load" });
    return null;
  },
  async reload({ page }) {
    await pages.get(page).reload({ waitUntil: "load" });
    return null;
  },
  async evaluate({ page, expression }) {
    return await evaluate(pages.get(page), expression);
  },
  // Polls ``expression`` every 50 ms until it is truthy (its value is returned).
  async waitFor({ page, expression, timeout }) {
    const p = pages.get(page);
    const deadline = Date.now() + timeout;
    let last = "";
    for (;;) {
      try {
        const v = await evaluate(p, expression);
        if (v) return v;
      } catch (e) {
        last = `: last error ${e.message}`; // e.g. a navigation in between: try again
      }
      if (Date.now() > deadline) throw new Error(`timeout ${timeout} ms waiting for ${expression}${last}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  },
  async screenshot({ page, path, fullPage }) {
    await pages.get(page).screenshot({ path, fullPage: Boolean(fullPage) });
    return null;
  },
  async closeContext({ context }) {
    const c = contexts.get(context);
    for (const [id, page] of pages) if (page.browserContext() === c.context) pages.delete(id);
    contexts.delete(context);
    await c.context.close();
    return null;
  },
};

send({ ready: await browser.version() });
const input = createInterface({ input: process.stdin });
input.on("line", async (line) => {
  const request = JSON.parse(line);
  try {
    send({ id: request.id, result: await ops[request.op](request) });
  } catch (e) {
    send({ id: request.id, error: String(e?.message ?? e) });
  }
});
input.on("close", async () => {
  await browser.close().catch(() => {});
  process.exit(0);
});
