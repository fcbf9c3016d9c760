"""All browser benchmarks, one after the other (``make bench-browser``)."""

from __future__ import annotations

import argparse
import asyncio

from bench.browser import glass, join, sframe
from bench.common import machine, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", default="sframe,join,glass",
                    help="comma-separated: sframe, join, glass")
    ap.add_argument("--joins", type=int, default=20)
    ap.add_argument("--reloads", type=int, default=20)
    ap.add_argument("--secs", type=float, default=15.0, help="glass-to-glass window")
    ap.add_argument("--quick", action="store_true", help="3 joins, 2 reloads, 5 s")
    a = ap.parse_args()
    if a.quick:
        a.joins, a.reloads, a.secs = 3, 2, 5.0
    only = set(a.only.split(","))
    if "sframe" in only:
        sframe.run()
    if "join" in only:
        m = machine()  # the load average at the start
        res = asyncio.run(join.run(a.joins, a.reloads))
        report("\nBrowser join -> first decrypted and decoded frame:", join.HEADERS,
               join.table_rows(res), "browser_join", {"machine": m, **res})
    if "glass" in only:
        m = machine()
        g = asyncio.run(glass.run(a.secs, 3.0))
        report("\nGlass-to-glass, browser -> SFU -> browser:", glass.HEADERS,
               glass.table_rows(g), "browser_glass", {"machine": m, **g})


if __name__ == "__main__":
    main()
