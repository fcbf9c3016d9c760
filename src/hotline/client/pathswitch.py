"""Which path a two-party call sends its media on: the path switching policy.

Pure: no asyncio, no aiortc; time is passed in (seconds, any monotonic clock). The page
has the same module (``web/src/media/pathswitch.ts``), and both run the same conformance
file (``protocol/conformance/path-switch.json``: the thresholds below and timelines of
inputs with the decisions expected).

A two-party call that allows it keeps two paths up (hot standby): ``"sfu"`` (our
connections to the SFU) and ``"direct"`` (a peer-to-peer connection to the far end).
Media is sent on one, the active path; both carry the same SFrame-encrypted frames (same
keys, same counters, same group code: a switch needs no rekey). The caller tells the
policy what happens (a path's connection state changed, a packet of the far end's media
arrived on a path, the switch it decided was made) and asks :meth:`PathPolicy.decide`
after each of them and on a timer. The rules, in order (the first that applies wins):

1. nothing before the first path is active, nothing to switch to unless the other path
   is ``connected``;
2. the active path ``failed`` or ``closed``: at once (``failed``);
3. the active path brought the far end's media and then nothing for ``silent_s``,
   counted from its last packet or from when it became active, whichever is later
   (``silent``): the far end's audio alone sends 50 packets a second;
4. the far end moved: the active path silent for ``follow_s`` and the other path brought
   the far end's media within ``follow_s`` (``far_end_moved``), not within ``dwell_s`` of
   our last switch (the far end may be about to follow us);
5. the preferred path is up and we are on the other: switch to it (``preferred``), unless
   we left it since its connection was made (it went silent or failed, or the far end
   never came onto it: a new connection, state ``new``, makes it eligible again), not
   within ``dwell_s`` of our last switch.

"The far end's media" is what the caller says it is: the Python client counts frames of
the far party that decrypted (a path that brings anything else, e.g. a stranger's
connection slipped in by a lying server, is a silent path).

Why these values: docs/reliability.md ("Path switching"). With ``silent_s`` = 0.8 s and a
check every 0.1 s, the audio gap of a failover is about 1 s: inside the 2 s of
requirement H10.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Path = Literal["sfu", "direct"]
PATHS: tuple[Path, ...] = ("sfu", "direct")
#: Why the active path changes.
Reason = Literal["failed", "silent", "far_end_moved", "preferred"]
#: What each path is called where people see it (hotline.client.call.Call.path).
LABELS: dict[Path, str] = {"sfu": "via SFU", "direct": "direct"}


@dataclass(frozen=True)
class Thresholds:
    """Seconds; the conformance file holds the same values."""

    silent_s: float = 0.8
    follow_s: float = 0.3
    dwell_s: float = 1.0


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Switch:
    """A decision to send on ``to`` from now on, and why (``reason``, one of
    :data:`Reason`; ``text`` for people)."""

    to: Path
    reason: Reason
    text: str


@dataclass
class _PathState:
    state: str = "new"
    media_at: float | None = None  # last packet of the far end's media on it
    abandoned: bool = False  # we left it since its connection was made


def other(path: Path) -> Path:
    return "direct" if path == "sfu" else "sfu"


class PathPolicy:
    """The active path of one call, and when to change it (see the module's rules)."""

    def __init__(self, prefer: Path = "direct", thresholds: Thresholds = THRESHOLDS) -> None:
        self.prefer: Path = prefer
        self.thresholds = thresholds
        self.active: Path | None = None
        self.active_since = 0.0  # when the active path became active
        self._paths: dict[Path, _PathState] = {p: _PathState() for p in PATHS}

    # -- what happens --------------------------------------------------------------------

    def connection(self, path: Path, state: str, now: float) -> None:
        """``path``'s connection changed state (``new``: a new connection replaced it)."""
        p = self._paths[path]
        if state == "new":
            p.abandoned, p.media_at = False, None
        p.state = state
        if self.active is None and state == "connected":
            self.switched(path, now)  # the first path up carries the media

    def media(self, path: Path, at: float) -> None:
        """A packet of the far end's media arrived on ``path`` at ``at``."""
        p = self._paths[path]
        if p.media_at is None or at > p.media_at:
            p.media_at = at

    def switched(self, to: Path, now: float) -> None:
        """The caller now sends on ``to`` (what :meth:`decide` said, or its own choice)."""
        if self.active is not None and self.active != to:
            self._paths[self.active].abandoned = True  # not preferred again as it is
        self.active, self.active_since = to, now

    # -- the decision --------------------------------------------------------------------

    def _quiet(self, path: Path, now: float) -> float:
        p = self._paths[path]
        last = self.active_since if p.media_at is None else max(p.media_at, self.active_since)
        return now - last

    def state(self, path: Path) -> str:
        return self._paths[path].state

    def left(self, path: Path) -> bool:
        """We left ``path`` since its connection was made (it needs a new one)."""
        return self._paths[path].abandoned

    def decide(self, now: float) -> Switch | None:
        """Whether to send on the other path from now on, and why."""
        t = self.thresholds
        if self.active is None:
            return None
        to = other(self.active)
        target = self._paths[to]
        if target.state != "connected":
            return None
        current = self._paths[self.active]
        if current.state in ("failed", "closed"):
            return Switch(to, "failed", f"{LABELS[self.active]} connection {current.state}")
        quiet = self._quiet(self.active, now)
        if current.media_at is not None and quiet > t.silent_s:
            return Switch(to, "silent", f"nothing from the far end {LABELS[self.active]} "
                                        f"for {quiet:.1f} s")
        settled = now - self.active_since >= t.dwell_s
        if settled and quiet > t.follow_s and target.media_at is not None and \
                now - target.media_at <= t.follow_s:
            return Switch(to, "far_end_moved", f"the far end sends {LABELS[to]}")
        if settled and to == self.prefer and not target.abandoned:
            return Switch(to, "preferred", f"{LABELS[to]} is up")
        return None
