"""The path a call's media takes, as shown to people: one label from a small set, the
same in Python, the CLI and the page ("via SFU", "direct", "relay over UDP", "relay over
TCP", "relay over TLS"; through TURN, a direct connection is "direct, relayed over X").

:func:`path_label` is the pure part (from the selected ICE candidate pair);
:class:`PathShown` keeps the current label and every change, for :class:`Call`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Literal

from hotline.signaling.turn_urls import LABELS, Transport

log = logging.getLogger("hotline.path")

VIA_SFU = "via SFU"
DIRECT = "direct"
#: What a call shows before its media connection is up.
NO_PATH = ""


def path_label(kind: Literal["sfu", "direct"], local_type: str | None,
               relay: Transport | None) -> str:
    """The label of a connection of ``kind`` whose selected pair's local candidate is of
    ``local_type`` ("host", "srflx", "prflx", "relay"), relayed over ``relay``."""
    if local_type == "relay" and relay is not None:
        over = LABELS[relay]
        return f"relay over {over}" if kind == "sfu" else f"direct, relayed over {over}"
    return VIA_SFU if kind == "sfu" else DIRECT


class PathShown:
    """``path`` (the current label), ``path_changes`` (``(loop time, label)``, one per
    change) and ``on_path_change`` (called with each new label)."""

    path: str
    path_changes: list[tuple[float, str]]
    on_path_change: Callable[[str], None] | None

    def _init_path(self) -> None:
        self.path = NO_PATH
        self.path_changes = []
        self.on_path_change = None

    def set_path(self, label: str, now: float | None = None) -> None:
        """Note ``label`` as the current path (at loop time ``now``, default: now); a
        change is recorded and announced."""
        if label == self.path or not label:
            return
        self.path = label
        self.path_changes.append((asyncio.get_running_loop().time() if now is None else now,
                                  label))
        log.info("media path: %s", label)
        if self.on_path_change is not None:
            try:
                self.on_path_change(label)
            except Exception as exc:  # a listener's failure is its own
                log.warning("on_path_change failed: %r", exc)
