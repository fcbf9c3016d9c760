"""Link-test outcomes, hotline states and uptime, computed from figures and log entries.

PURE: no asyncio, no I/O; time is passed in. The server (:mod:`hotline.server.hotline.linktests`)
asks both ends of a link test for their figures (:class:`~hotline.signaling.messages.
LinkTestFigures`) and calls :func:`evaluate`; :func:`hotline_status` turns an uptime
record into what ``hotline status`` and the dashboard show.

Outcomes (docs/OPERATIONS.md):

* ``ok``: both ends joined, each decrypted the other's audio and video, the group codes
  of the two ends are equal, and the figures are within :class:`Thresholds`;
* ``degraded``: as ok, but a figure is past its threshold (the link works, badly);
* ``unreachable``: no standby endpoint of a party is connected (no call is placed);
* ``responder_failed``: both ends connected, but the test call failed (an end did not
  join or report in time, media did not decrypt in a direction, or the codes differ);
* ``no_answer``: a real call that nobody answered (calls only).

A scheduled test is a **round**: one test per configured media path (``sfu``,
``direct``, ``relay``), each its own ``linktest`` entry with the outcome above and the
round's id. The round's outcome (:func:`round_verdict`), which is the hotline's state:

* ``ok``: every path ``ok``;
* ``degraded``: every path works but a figure is past its threshold, or some path
  failed while another works (the reason names each failed path: an alarm);
* ``unreachable``: no path works, or no standby endpoint of a party is connected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hotline.crypto.uptimelog import LogEntry
from hotline.signaling.messages import LinkTestFigures

OK, DEGRADED, UNREACHABLE, RESPONDER_FAILED, NO_ANSWER = (
    "ok", "degraded", "unreachable", "responder_failed", "no_answer")
#: Outcomes under which the link carried E2EE media both ways.
UP = frozenset({OK, DEGRADED})
DAY_MS, MONTH_MS = 24 * 3600 * 1000, 30 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Past any of these a working link test is ``degraded``."""

    max_rtt_ms: float = 400.0  # sum of both ends' round trips to the SFU
    max_loss: float = 0.05  # fraction of packets lost, worse direction
    max_jitter_ms: float = 50.0
    max_setup_ms: float = 5000.0  # start of the test -> media connected, slower end
    min_frames: int = 5  # decrypted frames per kind and direction for "it works"


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str
    reason: str
    figures: dict[str, Any]  # the path's figures (combined over both ends)


def _worst(values: Iterable[float | None], pick: Any = max) -> float | None:
    present = [v for v in values if v is not None]
    return round(pick(present), 3) if present else None


def combine(ends: Mapping[str, LinkTestFigures | None], path: str = "sfu"
            ) -> dict[str, Any]:
    """The path's figures from both ends' reports (None where an end measured none).
    Through the SFU each end measures its own hop (the round trip is their sum); on the
    direct path both measure the same round trip (the larger is taken)."""
    got = [f for f in ends.values() if f is not None]
    rtts = [f.rtt_ms for f in got]
    both = len(got) == 2 and all(r is not None for r in rtts)
    return {
        "setup_ms": _worst(f.setup_ms for f in got),
        "first_frame_ms": _worst(f.first_frame_ms for f in got),
        "rtt_ms": (_worst(rtts) if path == "direct" else
                   round(sum(r for r in rtts if r is not None), 3)) if both else None,
        "loss": _worst(f.loss for f in got),
        "jitter_ms": _worst(f.jitter_ms for f in got),
        "both_directions_decrypted": False,
    }


def evaluate(ends: Mapping[str, LinkTestFigures | None], thresholds: Thresholds,
             path: str = "sfu") -> Verdict:
    """The outcome of a link test of ``path`` whose two ends (party -> figures, None: no
    report) were both connected when it started."""
    figures = combine(ends, path)
    for party, f in ends.items():
        if f is None:
            return Verdict(RESPONDER_FAILED, f"no report from {party} in time", figures)
        if not f.joined:
            return Verdict(RESPONDER_FAILED, f"{party} could not join: {f.error or '?'}",
                           figures)
    for party, f in ends.items():
        if f is not None and min(f.video_frames, f.audio_frames) < thresholds.min_frames:
            return Verdict(RESPONDER_FAILED,
                           f"{party} decrypted {f.video_frames} video and {f.audio_frames} "
                           f"audio frames from the far end (< {thresholds.min_frames})", figures)
    codes = {f.group_code for f in ends.values() if f is not None}
    if len(codes) != 1 or "" in codes:
        return Verdict(RESPONDER_FAILED, "the two ends show different group codes", figures)
    figures["both_directions_decrypted"] = True
    over = []
    for name, limit in (("rtt_ms", thresholds.max_rtt_ms), ("loss", thresholds.max_loss),
                        ("jitter_ms", thresholds.max_jitter_ms),
                        ("setup_ms", thresholds.max_setup_ms)):
        value = figures[name]
        if value is not None and value > limit:
            over.append(f"{name} {value} > {limit}")
    if over:
        return Verdict(DEGRADED, "; ".join(over), figures)
    return Verdict(OK, "", figures)


def round_verdict(paths: Mapping[str, Mapping[str, Any]]) -> tuple[str, str, list[str]]:
    """(outcome, reason, failed paths) of a round from its paths' entries (path ->
    fields with ``outcome`` and ``reason``), in the order they ran."""
    failed = [p for p, d in paths.items() if d.get("outcome") not in UP]
    why = "; ".join(f"path {p}: {paths[p].get('reason') or paths[p].get('outcome')}"
                    for p in failed)
    if not paths:
        return UNREACHABLE, "no path was tested", []
    if len(failed) == len(paths):
        if len(paths) == 1 and next(iter(paths.values())).get("path") is None:
            only = next(iter(paths.values()))  # no standby endpoint: no path was tried
            return UNREACHABLE, str(only.get("reason", "")), []
        return UNREACHABLE, f"every path failed: {why}", failed
    if failed:
        return DEGRADED, why, failed
    slow = "; ".join(f"path {p}: {d.get('reason')}" for p, d in paths.items()
                     if d.get("outcome") == DEGRADED)
    return (DEGRADED, slow, []) if slow else (OK, "", [])


def rounds(tests: list[LogEntry]) -> list[list[LogEntry]]:
    """``linktest`` entries grouped by round (consecutive entries with the same ``round``;
    an entry without one, written before rounds existed, is a round of its own)."""
    out: list[list[LogEntry]] = []
    for e in tests:
        key = e.fields.get("round")
        if out and key is not None and out[-1][-1].fields.get("round") == key:
            out[-1].append(e)
        else:
            out.append([e])
    return out


def round_of(entries: list[LogEntry]) -> tuple[str, str, list[str]]:
    """:func:`round_verdict` of one round's entries; an entry written before rounds
    existed (no ``round``) keeps its own outcome."""
    if len(entries) == 1 and "round" not in entries[0].fields:
        f = entries[0].fields
        return str(f.get("outcome", "")), str(f.get("reason", "")), []
    return round_verdict({str(e.fields.get("path") or "-"): e.fields for e in entries})


def _round_summary(entries: list[LogEntry], *, with_ends: bool) -> dict[str, Any]:
    paths = {str(e.fields.get("path") or "-"): {
        k: v for k, v in {"seq": e.seq, **e.fields}.items()
        if k not in ("round", "originator", "responder", "trigger") and
        (with_ends or k != "ends")} for e in entries}
    outcome, reason, failed = round_of(entries)
    first = entries[0]
    return {"seq": first.seq, "time_ms": first.time_ms, "round": first.fields.get("round"),
            "originator": first.fields.get("originator"),
            "responder": first.fields.get("responder"),
            "trigger": first.fields.get("trigger"), "outcome": outcome, "reason": reason,
            "failed_paths": failed, "paths": paths}


# -- states and uptime, from the uptime record -------------------------------------------


def _uptime(tests: list[tuple[int, str]], since_ms: int) -> dict[str, Any]:
    window = [outcome for t, outcome in tests if t >= since_ms]
    up = sum(1 for o in window if o in UP)
    return {"tests": len(window), "up": up,
            "ratio": round(up / len(window), 4) if window else None}


def open_alarms(entries: Iterable[LogEntry]) -> list[dict[str, Any]]:
    """Alarms raised since the last ``alarm_cleared`` entry."""
    alarms: list[dict[str, Any]] = []
    for e in entries:
        if e.kind == "alarm":
            alarms.append({"time_ms": e.time_ms, "seq": e.seq, **e.fields})
        elif e.kind == "alarm_cleared":
            alarms = []
    return alarms


def hotline_status(name: str, parties: tuple[str, str], entries: list[LogEntry], *,
                   now_ms: int, interval_s: float, last: int = 20) -> dict[str, Any]:
    """One hotline's state, last ``last`` rounds of tests (per-end figures for the last
    one only), uptime over 24 h and 30 days, open alarms.

    ``state`` is the last round's outcome, ``never_tested``, or ``alarm`` while a
    missing-test alarm is open (the scheduler did not produce a result in time).
    """
    tests = rounds([e for e in entries if e.kind == "linktest"])
    # The per-end details stay with the last round only: a status fits in one message.
    recent = [_round_summary(r, with_ends=i == len(tests) - 1)
              for i, r in enumerate(tests) if i >= len(tests) - last]
    outcomes = [(r[0].time_ms, round_of(r)[0]) for r in tests]
    alarms = open_alarms(entries)
    state = outcomes[-1][1] if outcomes else "never_tested"
    if any(a.get("reason") == "missing" for a in alarms):
        state = "alarm"
    calls = [e for e in entries if e.kind == "call"]
    return {
        "name": name, "parties": list(parties), "state": state, "interval_s": interval_s,
        "last_test": recent[-1] if recent else None, "tests": recent,
        "uptime": {"24h": _uptime(outcomes, now_ms - DAY_MS),
                   "30d": _uptime(outcomes, now_ms - MONTH_MS)},
        "alarms_open": alarms,
        "last_call": {"time_ms": calls[-1].time_ms, **calls[-1].fields} if calls else None,
    }
