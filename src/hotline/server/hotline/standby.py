"""Standby endpoints of the hotlines, and the pinned-key check every hotline action makes.

A standby endpoint is a signaling connection that registered with ``standby`` for a
hotline: it is of one of the hotline's two parties and presents a pinned identity key.
Several endpoints per party are allowed; a closed connection is forgotten at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hotline.crypto.identity import fingerprint
from hotline.errors import HotlineForbidden
from hotline.logtext import safe
from hotline.server.hotline.records import Hotline
from hotline.server.rooms import Peer
from hotline.server.store import Store

log = logging.getLogger("hotline.hotlines")


class Endpoint(Peer, Protocol):
    """What the hotline service needs from a signaling connection."""

    @property
    def device_id(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Registered:
    endpoint: Endpoint
    hotline: str
    party: str
    device: str  # "label #id", for people


def device_name(store: Store, endpoint: Endpoint) -> str:
    device = store.device_by_key(endpoint.identity_key)
    label = device.label if device is not None and device.label else "device"
    return f"{label} #{endpoint.device_id}"


def far_party(hotline: Hotline, party: str) -> str:
    a, b = hotline.parties
    return b if party == a else a


def check_pinned(store: Store, name: str, endpoint: Endpoint, audit: Callable[..., None],
                 action: str) -> Hotline:
    """The hotline, if ``endpoint`` is one of its ends with a pinned key; otherwise raise
    :class:`HotlineForbidden` naming the party and both fingerprints, and log it."""
    hotline = store.get_hotline(name)
    if hotline is None:
        raise HotlineForbidden(f"no hotline named {name!r}; see `hotline admin hotline list`")
    if endpoint.party not in hotline.parties:
        raise HotlineForbidden(f"party {endpoint.party!r} is not an end of hotline {name!r}")
    pinned = hotline.pins.get(endpoint.party, frozenset())
    if endpoint.identity_key in pinned:
        return hotline
    presented = fingerprint(endpoint.identity_key)
    pinned_fps = sorted(fingerprint(k) for k in pinned)
    log.warning("PIN MISMATCH hotline=%s party=%s conn=%s action=%s presented=%s pinned=%s",
                safe(name), safe(endpoint.party), endpoint.conn_id, action, presented,
                ",".join(pinned_fps))
    audit("pin_mismatch", party=endpoint.party, device_id=endpoint.device_id, hotline=name,
          action=action, presented=presented, pinned=pinned_fps)
    raise HotlineForbidden(
        f"identity key mismatch on hotline {name!r}: party {endpoint.party!r} presents "
        f"{presented}, but the hotline pins {' or '.join(pinned_fps) or 'no key'}; "
        "the operator must re-pin it (hotline admin hotline repin) if this device is legitimate")


class StandbyRegistry:
    """Which connections stand by for which hotline and party."""

    def __init__(self) -> None:
        self._by_conn: dict[str, list[Registered]] = {}

    def add(self, entry: Registered) -> None:
        entries = self._by_conn.setdefault(entry.endpoint.conn_id, [])
        if any(e.hotline == entry.hotline for e in entries):
            return
        entries.append(entry)
        log.info("standby hotline=%s party=%s conn=%s", entry.hotline, entry.party,
                 entry.endpoint.conn_id)

    def remove(self, endpoint: Endpoint) -> list[Registered]:
        return self._by_conn.pop(endpoint.conn_id, [])

    def of(self, hotline: str, party: str) -> list[Registered]:
        """The party's endpoints for ``hotline``, oldest registration first."""
        return [e for entries in self._by_conn.values() for e in entries
                if e.hotline == hotline and e.party == party]

    def count(self, hotline: str, party: str) -> int:
        return len(self.of(hotline, party))

    def find(self, hotline: str, endpoint: Endpoint) -> Registered | None:
        return next((e for e in self._by_conn.get(endpoint.conn_id, [])
                     if e.hotline == hotline), None)
