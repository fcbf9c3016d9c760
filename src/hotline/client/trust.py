"""The device's own trust store: whom this device seals keys to (issue #12, items 1-2).

The server lists who is in a call and which identity key each member has; it is not
believed. Each device keeps, beside its identity file (``<identity>.trust.json``, mode
0600), what it verified itself:

* per **party**, device fingerprints (:func:`hotline.crypto.identity.fingerprint`), each
  ``trusted`` or ``refused``, with how it got there (``source``: a hotline pin, accepted by
  the user, accepted by a command-line option);
* per **hotline**, the far party and its pinned fingerprints, imported out of band
  (``hotline pin add``, printed by ``hotline admin hotline add``). Strict: for that
  hotline nothing else is ever accepted, not even a device trusted for a room.

:func:`evaluate` turns the store and a presented ``(party, fingerprint)`` into a
:class:`Verdict`. It is the same in the browser (web/src/crypto/truststore.ts) and both
run the cases in tests/vectors/trust-v1.json. File layout::

    {"version": 1,
     "parties": {"alice": {"devices": {"<fingerprint>": {"state": "trusted",
                                                          "source": "accepted", "since": "..."}}}},
     "hotlines": {"red": {"party": "moscow", "fingerprints": ["<fingerprint>", ...],
                          "since": "..."}}}

This module is pure but for :meth:`TrustStore.load` and :meth:`TrustStore.save`.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline.errors import ConfigError, UsageError

VERSION = 1
#: Suffix of the trust file next to an identity file.
SUFFIX = ".trust.json"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_DEVICES = 1000  # per party, in a file: bad input must not grow without bound


class Verdict(enum.StrEnum):
    """What this device makes of a presented (party, device key)."""

    TRUSTED = "trusted"  # verified: keys are sealed to it
    NEW_PARTY = "new_party"  # a party never seen: ask the user
    NEW_DEVICE = "new_device"  # a known party, a device not seen: ask (like a safety number)
    CHANGED = "changed"  # hotline: not a pinned key; room: a key known under another party
    REFUSED = "refused"  # refused before by the user
    UNPINNED = "unpinned"  # hotline: no pin imported on this device


class State(enum.StrEnum):
    TRUSTED = "trusted"
    REFUSED = "refused"


def canonical(fingerprint: str) -> str:
    """``fingerprint`` in the form :func:`~hotline.crypto.identity.fingerprint` prints
    (8 groups of 4 lower-case hex digits); spaces, colons and case are ignored.
    Raises UsageError for anything else."""
    compact = re.sub(r"[\s:]", "", fingerprint).lower()
    if not _HEX32.fullmatch(compact):
        raise UsageError(f"not a device fingerprint (32 hex digits): {fingerprint[:80]!r}")
    return " ".join(compact[i:i + 4] for i in range(0, 32, 4))


def compact(fingerprint: str) -> str:
    """The fingerprint without spaces (for command lines)."""
    return canonical(fingerprint).replace(" ", "")


def check_name(kind: str, name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(f"not a {kind} name: {name[:80]!r}")
    return name


@dataclass
class Device:
    state: State
    source: str
    since: str = ""


@dataclass
class HotlinePin:
    party: str
    fingerprints: list[str]
    since: str = ""


@dataclass
class TrustStore:
    parties: dict[str, dict[str, Device]] = field(default_factory=dict)
    hotlines: dict[str, HotlinePin] = field(default_factory=dict)

    # -- decisions ------------------------------------------------------------------------

    def evaluate(self, party: str, fingerprint: str, hotline: str | None = None,
                 own_party: str = "") -> Verdict:
        return evaluate(self, party, fingerprint, hotline, own_party)

    # -- changes --------------------------------------------------------------------------

    def set_device(self, party: str, fingerprint: str, state: State, source: str,
                   since: str = "") -> None:
        devices = self.parties.setdefault(check_name("party", party), {})
        fp = canonical(fingerprint)
        if fp not in devices and len(devices) >= MAX_DEVICES:
            raise UsageError(f"too many devices of {party}")
        devices[fp] = Device(state, source[:100], since)

    def pin(self, hotline: str, party: str, fingerprints: list[str], since: str = "") -> None:
        """Pin ``party``'s devices for ``hotline`` (replacing the earlier pin); they are
        trusted devices of ``party`` too."""
        fps = sorted({canonical(f) for f in fingerprints})
        if not fps:
            raise UsageError("a pin needs at least one fingerprint")
        check_name("hotline", hotline)
        self.hotlines[hotline] = HotlinePin(check_name("party", party), fps, since)
        for fp in fps:
            self.set_device(party, fp, State.TRUSTED, f"hotline pin {hotline}", since)

    def unpin(self, hotline: str) -> bool:
        return self.hotlines.pop(hotline, None) is not None

    # -- JSON -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "parties": {p: {"devices": {fp: {"state": d.state.value, "source": d.source,
                                            "since": d.since} for fp, d in sorted(ds.items())}}
                        for p, ds in sorted(self.parties.items())},
            "hotlines": {h: {"party": pin.party, "fingerprints": list(pin.fingerprints),
                             "since": pin.since} for h, pin in sorted(self.hotlines.items())},
        }

    @classmethod
    def from_json(cls, doc: object) -> TrustStore:
        """Parse a stored document; raises ConfigError for anything malformed (a trust
        file is never half-read)."""
        try:
            return cls._parse(doc)
        except (KeyError, TypeError, ValueError, AttributeError, UsageError) as exc:
            raise ConfigError(f"trust store is malformed: {exc}") from None

    @classmethod
    def _parse(cls, doc: object) -> TrustStore:
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise ValueError(f"need a JSON object with version {VERSION}")
        store = cls()
        parties, hotlines = doc.get("parties", {}), doc.get("hotlines", {})
        if not isinstance(parties, dict) or not isinstance(hotlines, dict):
            raise TypeError("parties and hotlines must be objects")
        for party, entry in parties.items():
            for fp, dev in dict(entry["devices"]).items():
                store.set_device(str(party), str(fp), State(dev["state"]),
                                 str(dev.get("source", "")), str(dev.get("since", "")))
        for name, pin in hotlines.items():
            fps = pin["fingerprints"]
            if not isinstance(fps, list):
                raise TypeError("fingerprints must be a list")
            store.hotlines[check_name("hotline", str(name))] = HotlinePin(
                check_name("party", str(pin["party"])), sorted({canonical(str(f)) for f in fps}),
                str(pin.get("since", "")))
        return store

    # -- the file ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> TrustStore:
        """The store in ``path``; an empty one if there is no file yet."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise ConfigError(f"cannot read trust store {path}: {exc.strerror}") from None
        try:
            doc = json.loads(text)
        except ValueError:
            raise ConfigError(f"trust store {path} is not JSON") from None
        return cls.from_json(doc)

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed), mode 0600."""
        tmp = path.with_name(path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_json(), f, indent=2)
                f.write("\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise ConfigError(f"cannot write trust store {path}: {exc.strerror}") from None


def evaluate(store: TrustStore, party: str, fingerprint: str,
             hotline: str | None = None, own_party: str = "") -> Verdict:
    """The verdict on device ``fingerprint`` presented as a member of ``party``.

    In a hotline's call or link test (``hotline`` given) only that hotline's pins count:
    no pin is UNPINNED, a party other than the pinned one or a key not pinned is CHANGED.
    In a room: the party's record decides (TRUSTED, REFUSED, NEW_DEVICE, NEW_PARTY); a key
    this device trusts under another party is CHANGED (the server relabelled it); an
    unknown device of ``own_party`` (ours) is a NEW_DEVICE, not a new party.
    """
    fp = canonical(fingerprint)
    if hotline is not None:
        pin = store.hotlines.get(hotline)
        if pin is None:
            return Verdict.UNPINNED
        return Verdict.TRUSTED if party == pin.party and fp in pin.fingerprints \
            else Verdict.CHANGED
    devices = store.parties.get(party, {})
    device = devices.get(fp)
    if device is not None:
        return Verdict.TRUSTED if device.state is State.TRUSTED else Verdict.REFUSED
    if any(p != party and fp in ds and ds[fp].state is State.TRUSTED
           for p, ds in store.parties.items()):
        return Verdict.CHANGED
    return Verdict.NEW_DEVICE if devices or (party and party == own_party) \
        else Verdict.NEW_PARTY


def trust_path(identity_path: Path) -> Path:
    """Where the trust store of the identity in ``identity_path`` lives."""
    return identity_path.with_name(identity_path.name + SUFFIX)


def now_text() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
