"""What every benchmark shares: the work directory, percentiles, /proc samplers."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Mutable state (media, run files, results); never inside the source tree.
WORK = Path(os.environ.get("HOTLINE_BENCH_WORK")
            or os.path.join(os.environ.get("TMPDIR") or "/tmp", "hotline-bench")).resolve()
RESULTS = Path(os.environ.get("HOTLINE_BENCH_RESULTS") or ROOT / "bench" / "results")


def percentiles(values: list[float], points: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)
                ) -> dict[str, float] | None:
    """p50/p90/... of ``values`` (nearest rank), plus n, mean and max; None if empty."""
    if not values:
        return None
    s = sorted(values)
    out: dict[str, float] = {"n": len(s)}
    for p in points:
        out[f"p{round(p * 100)}"] = s[min(len(s) - 1, int(p * len(s)))]
    out["mean"] = statistics.fmean(s)
    out["max"] = s[-1]
    return out


def signed_wrap(difference: float, wrap: int) -> float:
    """``difference`` of two values counted modulo ``wrap``, as the nearest signed value
    (a time code that wrapped), rounded to 0.01."""
    d = difference % wrap
    return round(d - wrap if d > wrap / 2 else d, 2)


def proc_stat(pid: int) -> tuple[float, int, int]:
    """(utime+stime in seconds, RSS bytes, threads) of ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return ((int(fields[11]) + int(fields[12])) / tick,
            int(fields[21]) * os.sysconf("SC_PAGE_SIZE"), int(fields[17]))


def cpu_times() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per CPU line of /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu"):
                name, *vals = line.split()
                v = list(map(int, vals))
                idle = v[3] + v[4]
                out[name] = (sum(v) - idle, sum(v))
    return out


def udp_counters() -> dict[str, int]:
    """UDP counters of this network namespace (receive-buffer drops show who fell behind)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:]), strict=True))


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = []
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=False).stdout.strip()
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "loadavg": load, "commit": git,
            "time": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def arguments(doc: str | None, **defaults: float) -> argparse.Namespace:
    """The command line of a benchmark: ``doc`` as its help, and ``--name`` for each of
    ``defaults`` (of the default's type)."""
    ap = argparse.ArgumentParser(description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, value in defaults.items():
        ap.add_argument(f"--{name}", type=type(value), default=value)
    return ap.parse_args()


def report(title: str, headers: list[str], rows: list[list[Any]], name: str, data: Any,
           after: str = "") -> None:
    """Print ``title``, the table and ``after``, and write ``data`` to
    bench/results/<name>.json."""
    print(f"{title}\n")
    print(table(headers, rows))
    if after:
        print(f"\n{after}")
    print(f"\nwrote {write_json(name, data)}")


def write_json(name: str, data: Any) -> Path:
    """Write ``data`` to bench/results/<name>.json (and return the path)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    return path


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (also readable as plain text)."""
    def cell(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 10 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)
