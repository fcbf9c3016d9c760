"""SFrame per frame in headless Chromium, next to the Python figures of the same run.

The page web/bench/sframe.html (bundle web/dist/bench/sframe.js, from web/bench/sframe.ts)
runs ``protect``/``unprotect`` of web/src/crypto/frames.ts (what the media transform
worker calls per frame) for every cipher suite on the frames bench/crypto.py uses (an
Opus packet and a VP8 delta and key frame of bench/media.py), on the page's main thread
and in a dedicated worker. Each figure is the median over rounds of the mean time per
call of ``batch`` sequential, awaited calls (a page's clock is coarsened to 100 µs, so a
single call cannot be timed), and the best round (what a busy machine disturbs least).
The Python column is bench/crypto.py's median per call, measured in this run.

    .venv/bin/python -m bench.browser.sframe
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.browser.support import CHROMIUM_ARGS, chromium, serve_static
from bench.common import ROOT, arguments, machine, report

PAGE = "/web/bench/sframe.html"
SERVED = ("/web/bench/", "/web/dist/bench/")


async def browser_costs(frames: dict[str, bytes], rounds: int, batch: int) -> dict[str, Any]:
    sent = [{"name": n, "codec": "opus" if n == "opus" else "vp8", "hex": f.hex()}
            for n, f in frames.items()]
    options = {"rounds": rounds, "batch": batch, "warmup": batch}
    problems: list[str] = []
    with serve_static(ROOT, SERVED) as url:
        async with chromium(CHROMIUM_ARGS) as browser:
            page = await browser.new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(url + PAGE)
            await page.wait_for_function(
                "() => document.getElementById('status').textContent === 'ready'")
            res: dict[str, Any] = await page.evaluate(
                "([f, o]) => window.hotlineBenchSFrame(f, o)", [sent, options])
            version = browser.version
    if problems:
        raise SystemExit("page errors: " + "; ".join(problems))
    res["chromium"] = version
    res["options"] = options
    return res


def merge(python: list[dict[str, Any]], browser: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (suite, frame): Python, page and worker figures side by side."""
    page = {(r["suite"], r["frame"]): r for r in browser["page"]}
    worker = {(r["suite"], r["frame"]): r for r in browser["worker"]}
    rows = []
    for r in python:
        k = (r["suite"], r["frame"])
        rows.append({"suite": r["suite"], "frame": r["frame"], "bytes": r["bytes"],
                     "python_encrypt_us": r["encrypt_us"], "page_encrypt_us": page[k]["encrypt_us"],
                     "worker_encrypt_us": worker[k]["encrypt_us"],
                     "worker_encrypt_best_us": worker[k]["encrypt_best_us"],
                     "python_decrypt_us": r["decrypt_us"], "page_decrypt_us": page[k]["decrypt_us"],
                     "worker_decrypt_us": worker[k]["decrypt_us"],
                     "worker_decrypt_best_us": worker[k]["decrypt_best_us"],
                     "overhead_bytes": worker[k]["overhead_bytes"]})
    return rows


HEADERS = ["suite", "frame", "bytes", "encrypt µs Python", "encrypt µs worker",
           "encrypt µs worker, best round", "encrypt µs page", "decrypt µs Python",
           "decrypt µs worker", "decrypt µs worker, best round", "decrypt µs page", "overhead B"]


def table_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["suite"], r["frame"], r["bytes"], r["python_encrypt_us"], r["worker_encrypt_us"],
             r.get("worker_encrypt_best_us"), r["page_encrypt_us"], r["python_decrypt_us"],
             r["worker_decrypt_us"], r.get("worker_decrypt_best_us"), r["page_decrypt_us"],
             r["overhead_bytes"]] for r in rows]


def run(rounds: int = 15, batch: int = 100) -> dict[str, Any]:
    from bench import crypto

    m = machine()  # the load average at the start
    frames = crypto.frames()
    python, _ = crypto.sframe_costs()
    browser = asyncio.run(browser_costs(frames, rounds, batch))
    rows = merge(python, browser)
    out = {"machine": m, "chromium": browser["chromium"],
           "user_agent": browser["userAgent"], "options": browser["options"], "rows": rows}
    report("SFrame per frame: Python (median per call) and Chromium (median over "
           f"{rounds} rounds of {batch} awaited calls), µs:", HEADERS, table_rows(rows),
           "browser_sframe", out)
    return out


def main() -> None:
    a = arguments(__doc__, rounds=15, batch=100)
    run(a.rounds, a.batch)


if __name__ == "__main__":
    main()
