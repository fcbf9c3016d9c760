"""Hotline and Janus side by side: the same load, one configuration after the other.

For each configuration (publishers x subscribers) a fresh Hotline server and then a
fresh Janus are measured with :func:`bench.sfu.run.measure`. Prints the figures of
both, the ratio Hotline/Janus per row, writes ``bench/results/sfu.json`` and
``bench/results/sfu.md`` (the tables for docs/benchmarks.md) and the plot
``docs/img/sfu_pps_per_core.png``.

    python -m bench.sfu.compare                       # 2x2 ... 20x20, 20 s each
    python -m bench.sfu.compare --configs 2x2,5x5 --secs 8   # a quick look
    python -m bench.sfu.compare --configs 10x10,20x20 --repeats 3 --name sfu_repeats
        # each configuration 3 times, the SFUs taking turns; tables from the median runs
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, machine, table, write_json
from bench.sfu.run import measure

DEFAULT = "2x2,5x5,10x10,15x15,20x20"
#: Above this many forwarded packets/s, subscribers count SRTP datagrams without
#: decrypting them (the Python subscribers could not keep up otherwise).
COUNT_ABOVE = 12_000
PLOT = ROOT / "docs" / "img" / "sfu_pps_per_core.png"


def mode_for(pubs: int, subs: int) -> str:
    return "count" if pubs * subs * 114 > COUNT_ABOVE else "full"


def _lat(r: dict[str, Any], q: str) -> float | None:
    lat = r.get("probe_latency_ms")
    return round(lat[q], 2) if lat else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def per_core_expected(r: dict[str, Any]) -> float | None:
    """Packets/s per core counting what should have arrived (sent × subscribers): when
    subscribers dropped packets at their socket buffers (the client core was the limit),
    the SFU still forwarded them, so this is the fairer capacity figure."""
    return round(r["egress_pps_expected"] / (r["cpu_pct"] / 100)) if r["cpu_pct"] else None


def tables(rows: list[dict[str, Any]]) -> str:
    """The Markdown tables: every figure per SFU, then the ratios."""
    body = []
    for r in rows:
        body.append([f"{r['pubs']}×{r['subs']}", r["sfu"], r["mode"], r["egress_pps"],
                     r["loss"], r["cpu_pct"], r.get("us_per_pkt"), r.get("pps_per_core"),
                     r.get("mbps_per_core"), r["rss_idle_mb"], r["rss_mb"],
                     r["rss_growth_per_participant_kb"], _lat(r, "p50"), _lat(r, "p99"),
                     r["cpu_util"].get("cpu1")])
    figures = table(["config", "SFU", "subs mode", "forwarded pkt/s", "loss", "SFU CPU %",
                     "µs CPU/pkt", "pkt/s per core", "Mbit/s per core", "RSS idle MB",
                     "RSS MB", "RSS growth KB/participant", "probe p50 ms", "probe p99 ms",
                     "client core busy", "client socket drops"], body)
    by = {(r["pubs"], r["subs"], r["sfu"]): r for r in rows}
    ratios = []
    for p, s in sorted({(r["pubs"], r["subs"]) for r in rows}):
        h, j = by.get((p, s, "hotline")), by.get((p, s, "janus"))
        if not h or not j:
            continue
        ratios.append([f"{p}×{s}", h.get("pps_per_core"), j.get("pps_per_core"),
                       ratio(h.get("pps_per_core"), j.get("pps_per_core")),
                       ratio(per_core_expected(h), per_core_expected(j)),
                       ratio(h.get("mbps_per_core"), j.get("mbps_per_core")),
                       ratio(j.get("us_per_pkt"), h.get("us_per_pkt")),
                       ratio(h["rss_mb"], j["rss_mb"]),
                       ratio(_lat(h, "p50"), _lat(j, "p50")),
                       ratio(_lat(h, "p99"), _lat(j, "p99"))])
    ratio_table = table(["config", "Hotline pkt/s per core", "Janus pkt/s per core",
                         "**ratio pkt/s per core**",
                         "ratio per core, expected egress (see drops)", "ratio Mbit/s per core",
                         "ratio (Janus µs/pkt ÷ Hotline µs/pkt)", "ratio RSS",
                         "ratio probe p50", "ratio probe p99"], ratios)
    return ("Hotline / Janus (above 1 means Hotline forwards more per core; for RSS and "
            "latency, above 1 means Hotline uses more):\n\n" + ratio_table
            + "\n\nEvery figure:\n\n" + figures)


def plot(rows: list[dict[str, Any]], path: Path = PLOT) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no plot; `make bench` installs it)")
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for sfu, style in (("hotline", "o-"), ("janus", "s--")):
        pts = sorted((r["pubs"] + r["subs"], r["pps_per_core"]) for r in rows
                     if r["sfu"] == sfu and r.get("pps_per_core"))
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], style,
                    label="Hotline (Python, aiortc)" if sfu == "hotline" else "Janus 1.1.2 (C)")
    ax.set_xlabel("participants (publishers + subscribers; N×N)")
    ax.set_ylabel("forwarded packets/s per core")
    ax.set_title("SFU forwarding capacity per core (same load, same machine)")
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=DEFAULT, help="comma-separated PUBSxSUBS")
    ap.add_argument("--sfus", default="hotline,janus")
    ap.add_argument("--secs", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=4)
    ap.add_argument("--name", default="sfu", help="results file name (bench/results/NAME.*)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--repeats", type=int, default=1,
                    help="measure each configuration this many times, the SFUs taking turns; "
                         "the tables use each SFU's median run (odd counts are best)")
    a = ap.parse_args()
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    started = machine()
    for cfg in a.configs.split(","):
        pubs, subs = (int(x) for x in cfg.lower().split("x"))
        by_sfu: dict[str, list[dict[str, Any]]] = {}
        for repeat in range(a.repeats):
            for sfu in a.sfus.split(","):
                t = time.monotonic()
                r = measure(sfu, pubs, subs, secs=a.secs, warmup=a.warmup,
                            mode=mode_for(pubs, subs))
                r["repeat"] = repeat
                by_sfu.setdefault(sfu, []).append(r)
                runs.append(r)
                print(f"{sfu:8} {pubs:2}x{subs:<2} {r['mode']:5} fwd {r['egress_pps']:6} pkt/s  "
                      f"loss {r['loss'] or 0:.4f}  CPU {r['cpu_pct']:5.1f} %  "
                      f"{r.get('us_per_pkt', 0):6.1f} µs/pkt  "
                      f"{r.get('pps_per_core', 0):6} pkt/s/core  RSS {r['rss_mb']} MB  "
                      f"probe p50 {_lat(r, 'p50')} ms ({time.monotonic() - t:.0f} s)", flush=True)
        for measured in by_sfu.values():
            ordered = sorted(measured, key=lambda r: r.get("pps_per_core") or 0)
            rows.append(ordered[(len(ordered) - 1) // 2])
        if a.repeats > 1 and len(by_sfu) == 2:
            h, j = (by_sfu[s] for s in a.sfus.split(","))
            pairs = [round(x["pps_per_core"] / y["pps_per_core"], 2)
                     for x, y in zip(h, j, strict=True)
                     if x.get("pps_per_core") and y.get("pps_per_core")]
            print(f"{cfg}: ratio per core in each turn {pairs}", flush=True)
    text = tables(rows)
    print()
    print(text)
    out = {"machine": started, "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
           "secs": a.secs, "warmup": a.warmup, "repeats": a.repeats, "rows": rows,
           "runs": runs}
    path = write_json(a.name, out)
    (RESULTS / f"{a.name}.md").write_text(text + "\n")
    print(f"\nwrote {path} and {RESULTS / (a.name + '.md')}")
    if not a.no_plot:
        png = plot(rows)
        if png:
            print(f"plot: {png}")


def replot(path: Path = RESULTS / "sfu.json") -> None:
    """Redraw the plot and tables from a saved run."""
    rows = json.loads(path.read_text())["rows"]
    print(tables(rows))
    plot(rows)


if __name__ == "__main__":
    main()
