"""One SFU forwarding measurement: start the SFU, connect the load, sample, summarize.

Runs in the host's network namespace and puts everything else in the benchmark's
private one (created by the Janus peer's ``ns.sh start``: only ``lo`` and an unlinked
veth with 127.0.0.2; nothing can leave the machine). The SFU is pinned to CPU 0, the
load generator (:mod:`bench.sfu.loadgen`) to CPU 1; the SFU's CPU and RSS come from
``/proc/<pid>``, sampled over the measurement window.

    python -m bench.sfu.run --sfu hotline --pubs 2 --subs 2 --secs 10
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, WORK, cpu_times, proc_stat

PEER = Path(os.environ.get("JANUS_PEER") or ROOT.parent / "shared" / "peers" / "janus")
JANUS_WORK = Path(os.environ.get("JANUS_WORK")
                  or os.path.join(os.environ.get("TMPDIR") or "/tmp", "janus-work"))
PYTHON = str(ROOT / ".venv" / "bin" / "python")
HOTLINE = str(ROOT / ".venv" / "bin" / "hotline")
HOTLINE_PORT = 8090
SFU_CPU, CLIENT_CPU = "0", "1"
MAX_SFU_SECONDS = 3600  # each SFU process is started under `timeout`


def holder() -> int:
    """The PID holding the benchmark namespace (``ns.sh start``)."""
    try:
        pid = int((JANUS_WORK / "run" / "ns.pid").read_text())
        if os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net"):
            return pid
    except (OSError, ValueError):
        pass
    raise SystemExit(f"no benchmark namespace: run {PEER}/ns.sh start (as root) first")


def in_ns(cmd: list[str]) -> list[str]:
    return [str(PEER / "ns.sh"), "exec", *cmd]


def udp_counters_ns() -> dict[str, int]:
    with open(f"/proc/{holder()}/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:]), strict=True))


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def listening(port: int) -> bool:
    """A TCP socket listening on ``port`` in the benchmark namespace."""
    want = f":{port:04X} "
    with open(f"/proc/{holder()}/net/tcp") as f:
        return any(want in line and line.split()[3] == "0A" for line in f)


class HotlineSfu:
    name = "hotline"

    def __init__(self, run: Path, pubs: int, subs: int) -> None:
        from hotline.server.store import SqliteStore

        data = run / "hotline-data"
        store = SqliteStore(data)
        codes = {}
        names = [f"pub{i}" for i in range(pubs)] + [f"sub{i}" for i in range(subs)]
        for name in [*names, "probepub", "probesub"]:
            store.add_party(name)
            codes[name] = store.new_enrollment_code(name)
        store.add_room("bench", names)
        store.add_room("probe", ["probepub", "probesub"])
        store.close()
        (run / "codes.json").write_text(json.dumps(codes))
        self.rooms = ("bench", "probe")
        self.args = {"url": f"http://127.0.0.1:{HOTLINE_PORT}",
                     "codes_file": str(run / "codes.json")}
        log = open(run / "hotline.log", "w")
        # HOTLINE_BENCH_PROFILE=FILE: run the server under cProfile (for profiling only)
        profile = os.environ.get("HOTLINE_BENCH_PROFILE")
        server = [PYTHON, "-m", "cProfile", "-o", profile, HOTLINE] if profile else [HOTLINE]
        self.proc = subprocess.Popen(in_ns(
            ["taskset", "-c", SFU_CPU, "timeout", str(MAX_SFU_SECONDS), *server, "serve",
             "--host", "127.0.0.1", "--media-host", "127.0.0.2", "--port", str(HOTLINE_PORT),
             "--data", str(data)]),
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        self.pid = 0
        while time.monotonic() < deadline and not (self.pid and listening(HOTLINE_PORT)):
            kids = children(self.proc.pid)
            self.pid = kids[0] if kids else 0
            time.sleep(0.1)
        if not self.pid or not listening(HOTLINE_PORT):
            self.stop()
            raise RuntimeError(f"hotline serve did not start; see {run / 'hotline.log'}")

    def stop(self) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class JanusSfu:
    name = "janus"

    def __init__(self, run: Path, pubs: int, subs: int) -> None:
        subprocess.run([str(PEER / "janus_stop.sh")], check=False, capture_output=True)
        env = {**os.environ, "JANUS_CPU": SFU_CPU, "JANUS_WORK": str(JANUS_WORK),
               "JANUS_MAXTIME": str(MAX_SFU_SECONDS)}
        subprocess.run([str(PEER / "janus_start.sh"), str(run / "janus.log")], check=True,
                       env=env, capture_output=True, timeout=60)
        self.pid = int((JANUS_WORK / "run" / "janus.pid").read_text())
        self.rooms = ("1000", "1001")
        self.args = {"url": "http://127.0.0.1:8088/janus"}

    def stop(self) -> None:
        subprocess.run([str(PEER / "janus_stop.sh")], check=False, capture_output=True,
                       env={**os.environ, "JANUS_WORK": str(JANUS_WORK)})


def wait_files(paths: list[str], procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(os.path.exists(p) for p in paths):
            return
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a load generator exited early (rc={p.returncode})")
        time.sleep(0.1)
    raise TimeoutError(f"load generators not ready after {timeout} s")


def measure(sfu_kind: str, pubs: int, subs: int, *, secs: float = 20, warmup: float = 4,
            mode: str = "full", probe: bool = True, tag: str = "") -> dict[str, Any]:
    """One run; returns the summary (also appended to the work dir's runs.jsonl)."""
    holder()
    run = WORK / "run" / f"{sfu_kind}-{pubs}x{subs}-{int(time.time() * 1000)}"
    run.mkdir(parents=True)
    sfu: HotlineSfu | JanusSfu = (HotlineSfu if sfu_kind == "hotline" else JanusSfu)(
        run, pubs, subs)
    log = open(run / "clients.log", "w")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        time.sleep(1.0)
        _, idle_rss, _ = proc_stat(sfu.pid)
        deadline = secs + warmup + 240
        go = str(run / "go.json")

        def spawn(role: str, room: str, extra: list[str], rt: bool = False) -> tuple[str, str]:
            ready, out = str(run / f"{role}.ready"), str(run / f"{role}.json")
            cmd = ["taskset", "-c", CLIENT_CPU, PYTHON, "-m", "bench.sfu.loadgen",
                   "--role", role, "--sfu", sfu_kind, "--sfu-args", json.dumps(sfu.args),
                   "--room", room, "--ready", ready, "--go", go, "--out", out,
                   "--deadline", str(deadline), *extra]
            if rt:
                cmd = ["chrt", "-f", "20", *cmd]
            procs.append(subprocess.Popen(in_ns(cmd), stdout=log, stderr=subprocess.STDOUT,
                                          cwd=ROOT))
            return ready, out

        t_setup = time.monotonic()
        readies, outs = [], []
        r, o = spawn("pubs", sfu.rooms[0], ["--n", str(pubs)])
        readies.append(r)
        outs.append(o)
        wait_files(readies, procs, 180)
        r, o = spawn("subs", sfu.rooms[0], ["--n", str(subs), "--expect", str(pubs),
                                             "--mode", mode])
        readies.append(r)
        outs.append(o)
        if probe:
            r, o = spawn("probe", sfu.rooms[1], [], rt=True)
            readies.append(r)
            outs.append(o)
        wait_files(readies, procs, 240)
        setup_s = time.monotonic() - t_setup
        t0 = time.monotonic() + warmup
        t1 = t0 + secs
        Path(go).write_text(json.dumps({"t0": t0, "t1": t1}))
        time.sleep(max(0.0, t0 - time.monotonic()))
        cpu0, rss0, _ = proc_stat(sfu.pid)
        sys0, udp0 = cpu_times(), udp_counters_ns()
        rss_max = rss0
        while time.monotonic() < t1:
            time.sleep(min(1.0, max(0.0, t1 - time.monotonic())))
            rss_max = max(rss_max, proc_stat(sfu.pid)[1])
        cpu1, rss1, threads = proc_stat(sfu.pid)
        sys1, udp1 = cpu_times(), udp_counters_ns()
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        sfu.stop()
        log.close()
    res = {Path(o).stem: json.loads(Path(o).read_text()) for o in outs if os.path.exists(o)}
    missing = [Path(o).stem for o in outs if Path(o).stem not in res]
    if missing:
        raise RuntimeError(f"no result from {missing}; see {run / 'clients.log'}")
    cpu = (cpu1 - cpu0) / secs
    sent_pps, sent_mbps = res["pubs"]["sent_pps"], res["pubs"]["sent_mbps"]
    recv_pps, recv_mbps = res["subs"]["recv_pps"], res["subs"]["recv_mbps"]
    expected = sent_pps * subs
    out: dict[str, Any] = {
        "sfu": sfu_kind, "pubs": pubs, "subs": subs, "mode": mode, "secs": secs, "tag": tag,
        "setup_s": round(setup_s, 1), "cpu_pct": round(100 * cpu, 1),
        "ingress_pps": round(sent_pps), "ingress_mbps": round(sent_mbps, 2),
        "egress_pps": round(recv_pps), "egress_mbps": round(recv_mbps, 2),
        "egress_pps_expected": round(expected),
        "delivery": round(recv_pps / expected, 4) if expected else None,
        "loss": round(max(0.0, 1 - recv_pps / expected), 4) if expected else None,
        "rss_idle_mb": round(idle_rss / 2**20, 1), "rss_mb": round(rss1 / 2**20, 1),
        "rss_max_mb": round(rss_max / 2**20, 1),
        "rss_growth_per_participant_kb": round((rss1 - idle_rss) / 1024 / (pubs + subs + 2)),
        "threads": threads,
        "cpu_util": {k: round((sys1[k][0] - sys0[k][0]) / max(1, sys1[k][1] - sys0[k][1]), 3)
                     for k in sys1},
        "udp_rcvbuf_errors": udp1["RcvbufErrors"] - udp0["RcvbufErrors"],
        "per_sub_pps_min": round(res["subs"]["per_sub_pps_min"]),
    }
    if cpu > 0 and recv_pps:
        out["pps_per_core"] = round(recv_pps / cpu)
        out["mbps_per_core"] = round(recv_mbps / cpu, 1)
        out["us_per_pkt"] = round(1e6 * cpu / recv_pps, 2)
    if res["subs"].get("latency_ms"):
        out["sub_latency_ms"] = res["subs"]["latency_ms"]
    if "probe" in res:
        out["probe_latency_ms"] = res["probe"]["latency_ms"]
    out["raw"] = res
    with open(WORK / "runs.jsonl", "a") as f:
        f.write(json.dumps(out) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sfu", required=True, choices=["hotline", "janus"])
    ap.add_argument("--pubs", type=int, default=2)
    ap.add_argument("--subs", type=int, default=2)
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--mode", default="full", choices=["full", "count"])
    ap.add_argument("--no-probe", action="store_true")
    a = ap.parse_args()
    out = measure(a.sfu, a.pubs, a.subs, secs=a.secs, warmup=a.warmup, mode=a.mode,
                  probe=not a.no_probe)
    json.dump({k: v for k, v in out.items() if k != "raw"}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
