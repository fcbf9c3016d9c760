"""Put the latest results (bench/results/*.json) into docs/benchmarks.md.

The part of docs/benchmarks.md between ``<!-- results:begin -->`` and
``<!-- results:end -->`` is rewritten from the JSON files; the rest is prose.

    python -m bench.report            # rewrite the docs
    python -m bench.report --print    # only print the Markdown
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.common import RESULTS, ROOT, table

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def markdown() -> str:
    from bench.sfu.compare import tables

    out = []
    sfu = _load("sfu")
    if sfu:
        m = sfu["machine"]
        out.append(f"### SFU forwarding (run of {m['time']}, commit {m['commit']}, "
                   f"{m['cpus']} × {m['cpu']}, load average at start {' '.join(m['loadavg'])})"
                   f"\n\n{sfu['secs']:.0f} s window after {sfu['warmup']:.0f} s warm-up per "
                   "configuration; a fresh SFU per configuration.\n\n" + tables(sfu["rows"])
                   + "\n\n![packets/s per core](img/sfu_pps_per_core.png)")
    crypto = _load("crypto")
    if crypto:
        rows = crypto["sframe"]
        out.append("### SFrame per frame (Python, median µs)\n\n" + table(
            ["suite", "frame", "bytes", "encrypt µs", "decrypt µs", "overhead B"],
            [[r["suite"], r["frame"], r["bytes"], r["encrypt_us"], r["decrypt_us"],
              r["overhead_bytes"]] for r in rows]))
        ov = crypto["overhead_default"]
        out.append(f"Bytes added per frame with the default suite ({crypto['default_suite']}): "
                   + ", ".join(f"{k} {v}" for k, v in ov.items()) + ".")
        out.append("### Rekey after a leave (Python, simulated participants)\n\n" + table(
            ["participants", "serial ms (one core)", "per participant ms", "key messages",
             "one group code after"],
            [[r["participants"], r["serial_ms"], r["per_participant_ms"], r["key_messages"],
              r["one_group_code"]] for r in crypto["rekey"]]))
    call = _load("call")
    if call:
        from bench import call as call_bench

        out.append("### Call set-up (Python client, loopback)\n\n"
                   + table(call_bench.HEADERS, call_bench.table_rows(call["python"])))
    glass = _load("glass")
    if glass:
        from bench.glass import HEADERS, table_rows

        g = glass["python"]
        out.append(f"### Glass-to-glass latency (Python client -> SFU -> Python client, one "
                   f"process; {_when(glass['machine'])})\n\n{g['size']} at {g['fps']} fps, "
                   f"over {g['secs']:.0f} s after a {g['warmup']:.0f} s warm-up:\n\n"
                   + table(HEADERS, table_rows(g)))
    out += browser_sections()
    return "\n\n".join(out)


def _when(m: dict[str, Any]) -> str:
    return (f"run of {m['time']}, commit {m['commit']}, load average at start "
            f"{' '.join(m['loadavg'])}")


def browser_sections() -> list[str]:
    from bench.browser import glass, join, sframe

    out = []
    js = _load("browser_join")
    if js:
        out.append(f"### Call set-up (browser, {js['chromium']}, loopback; {_when(js['machine'])})"
                   "\n\nJoin -> first decrypted and decoded frame of a Python participant, "
                   f"video {js['video']}; one enrollment, then every join without it:\n\n"
                   + table(join.HEADERS, join.table_rows(js)))
    g = _load("browser_glass")
    if g:
        out.append(f"### Glass-to-glass latency (browser -> SFU -> browser, {g['chromium']}; "
                   f"{_when(g['machine'])})\n\n{g['size']}, {g['fps_painted']} fps painted, "
                   f"{g['fps_received']} fps presented and read ({g['received_size']}), "
                   f"{g['unreadable']} frames unreadable, over {g['secs']:.0f} s after a "
                   f"{g['warmup']:.0f} s warm-up; clock offset between the pages "
                   f"{g['clock_offset_ms']} ms (± {g['clock_uncertainty_ms']} ms), corrected:"
                   "\n\n" + table(glass.HEADERS, glass.table_rows(g))
                   + "\n\nChromium's own figures over the window (getStats): "
                   + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in g["webrtc"].items())
                   + ".")
    sf = _load("browser_sframe")
    if sf:
        o = sf["options"]
        out.append(f"### SFrame per frame (browser, {sf['chromium']}, next to Python; "
                   f"{_when(sf['machine'])})\n\nµs per frame: Python median per call; page "
                   f"(main thread) and worker: median over {o['rounds']} rounds of the mean of "
                   f"{o['batch']} awaited calls, and the worker's best round. Overhead with "
                   "the counter below 256 (a 1-byte header).\n\n"
                   + table(sframe.HEADERS, sframe.table_rows(sf["rows"])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--print", action="store_true")
    a = ap.parse_args()
    text = markdown()
    if a.print or not DOC.exists():
        print(text)
        return
    doc = DOC.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} section")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
