"""When a client replaces its media connections (``media_restart``): the path-loss policy.

Pure: no asyncio, no aiortc; time is passed in (seconds, any monotonic clock). The page
has the same module (``web/src/media/mediarestart.ts``), and both run the same
conformance file (``protocol/conformance/media-restart.json``: the thresholds below and
timelines of inputs with the decisions expected).

The caller tells the policy what happens (the watch starts, a connection's state
changes, something is received, our addresses change, a restart is queued, sent and
answered) and asks :meth:`MediaRestartPolicy.decide` after each of them and on a timer.
The rules, in order (the first that applies wins):

1. nothing before :meth:`~MediaRestartPolicy.start`, nothing while a restart is queued;
2. our addresses changed: at once (the old path may be gone);
3. a restart sent and not answered (``media_restarted``) for ``setup_timeout_s``;
4. no connection at all (listening only, nobody publishes yet): nothing to watch;
5. a connection ``failed`` or ``closed``: at once;
6. the path connection (publish; subscribe when listening only) not ``connected``
   ``setup_timeout_s`` after the first of them was made;
7. a connection ``disconnected`` for longer than ``disconnected_s``;
8. nothing received on the path connection for longer than ``silent_s`` (the SFU sends
   a receiver report every second), ``silent_listening_s`` with no publish connection
   (media, or at least the SFU's consent checks every 1.6-2.4 s).

Why these values: docs/reliability.md ("Media restart policy").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Connection = Literal["publish", "subscribe"]
#: Why the media is restarted (the detail text goes to the log and the server).
Reason = Literal["address_change", "unanswered", "failed", "setup_timeout",
                 "disconnected", "silent"]


@dataclass(frozen=True)
class Thresholds:
    """Seconds; the conformance file holds the same values."""

    silent_s: float = 3.0
    silent_listening_s: float = 6.0
    disconnected_s: float = 2.0
    setup_timeout_s: float = 8.0


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Restart:
    """A decision to restart the media: ``reason`` (one of :data:`Reason`) and a
    human-readable ``text``."""

    reason: Reason
    text: str


@dataclass
class _Conn:
    state: str = "new"
    disconnected_since: float | None = None
    media_at: float | None = None  # last time anything was received on it


class MediaRestartPolicy:
    def __init__(self, thresholds: Thresholds = THRESHOLDS) -> None:
        self.thresholds = thresholds
        self.queued = False  # a restart decided, media_restart not sent yet
        self.pending = 0  # media_restart sent, media_restarted not back yet
        self._since: float | None = None  # started; when the first connection was made
        self._connected_at: float | None = None  # ... and when the path connected
        self._conns: dict[Connection, _Conn] = {}
        self._address_changed = False

    # -- what happens --------------------------------------------------------------------

    def start(self, now: float) -> None:
        """The call is joined: watch its media connections from now on."""
        self._since = now

    def connection(self, conn: Connection, state: str, now: float) -> None:
        """``conn`` was made (``new``) or its connection state changed."""
        if not self._conns and self._since is not None:
            self._since = now  # the first of the new connections: its setup starts
        c = self._conns.setdefault(conn, _Conn())
        c.state = state
        if state != "disconnected":
            c.disconnected_since = None
        elif c.disconnected_since is None:
            c.disconnected_since = now
        if state == "connected" and conn == self._path and self._connected_at is None:
            self._connected_at = now

    def media(self, conn: Connection, at: float) -> None:
        """Something was received on ``conn`` at ``at``."""
        c = self._conns.get(conn)
        if c is not None and (c.media_at is None or at > c.media_at):
            c.media_at = at

    def address_change(self) -> None:
        """Our addresses changed (the network moved us)."""
        if self._since is not None and not self.queued:
            self._address_changed = True

    def restart(self, now: float) -> None:
        """A restart was queued (decided here, or asked for by the user)."""
        self.queued = True
        self._address_changed = False
        self._since, self._connected_at = now, None
        for c in self._conns.values():
            c.disconnected_since = c.media_at = None

    def restart_sent(self, now: float) -> None:
        """``media_restart`` went out: both connections are dropped."""
        self.queued = False
        self.pending += 1
        self._since, self._connected_at = now, None
        self._conns.clear()

    def restarted(self, now: float) -> bool:
        """``media_restarted`` came back; True when it was the last one awaited (then
        the client publishes again)."""
        self.pending = max(0, self.pending - 1)
        if self.pending:
            return False
        self._since = now
        return True

    # -- the decision --------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """The path connection has connected since the connections were made."""
        return self._connected_at is not None

    @property
    def _path(self) -> Connection:
        return "publish" if "publish" in self._conns else "subscribe"

    def decide(self, now: float) -> Restart | None:
        """Whether to replace the media connections now, and why."""
        t = self.thresholds
        if self._since is None or self.queued:
            return None
        if self._address_changed:
            return Restart("address_change", "address change")
        if self.pending:
            return (Restart("unanswered", "no media_restarted from the server")
                    if now - self._since > t.setup_timeout_s else None)
        if not self._conns:
            return None
        for c in self._conns.values():
            if c.state in ("failed", "closed"):
                return Restart("failed", f"media connection {c.state}")
        if self._connected_at is None:
            return (Restart("setup_timeout", "media connections not up")
                    if now - self._since > t.setup_timeout_s else None)
        for c in self._conns.values():
            if c.disconnected_since is not None and now - c.disconnected_since > t.disconnected_s:
                return Restart("disconnected", "media connection disconnected")
        path = self._conns[self._path]
        limit = t.silent_s if "publish" in self._conns else t.silent_listening_s
        last = self._connected_at if path.media_at is None else max(path.media_at,
                                                                     self._connected_at)
        quiet = now - last
        return Restart("silent", f"nothing received for {quiet:.1f} s") if quiet > limit else None
