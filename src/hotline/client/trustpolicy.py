"""How a client decides whom it seals keys to: a :class:`TrustPolicy` over the device's
:class:`~hotline.client.trust.TrustStore`.

:class:`~hotline.client.signaling.SignalingClient` asks :meth:`TrustPolicy.decide` for
every roster member. The default policy (an empty store, nothing accepted by itself)
seals to no device this device has not verified: a member it does not know is listed
as unverified and gets no key until the application calls
:meth:`SignalingClient.accept <hotline.client.signaling.SignalingClient.accept>`
(the page's Accept button, the terminal's prompt). For scripts, ``accept`` names devices
to accept (``PARTY:FINGERPRINT``) and ``accept_new`` accepts every new party or device,
with a warning for each. A hotline's policy (:meth:`TrustPolicy.for_hotline`) is strict:
only the hotline's pins; any other key is refused with :class:`UntrustedKey` (an alarm).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from hotline.client.trust import (
    State,
    TrustStore,
    Verdict,
    canonical,
    compact,
    now_text,
    trust_path,
)
from hotline.crypto.identity import fingerprint
from hotline.errors import RemoteError, UsageError

log = logging.getLogger("hotline.trust")


@dataclass(frozen=True, slots=True)
class Presented:
    """A roster member as this device judged it."""

    participant_id: int
    party: str
    fingerprint: str
    verdict: Verdict
    hotline: str | None = None
    expected: tuple[str, ...] = ()  # the hotline's pinned fingerprints
    expected_party: str = ""

    @property
    def trusted(self) -> bool:
        return self.verdict is Verdict.TRUSTED

    def describe(self) -> str:
        """One line for people (no secrets: fingerprints are public)."""
        if self.hotline is not None:
            return pin_message(self)
        what = {Verdict.NEW_PARTY: "NEW PARTY", Verdict.NEW_DEVICE: "NEW DEVICE",
                Verdict.CHANGED: "KEY KNOWN AS ANOTHER PARTY", Verdict.REFUSED: "REFUSED",
                Verdict.TRUSTED: "verified"}.get(self.verdict, self.verdict.value)
        return (f"{what}: {self.party} (participant {self.participant_id}) presents device "
                f"{self.fingerprint}; not verified by this device, it gets no key")


def pin_message(p: Presented) -> str:
    if p.verdict is Verdict.UNPINNED:
        presented = f" (refusing {p.party} device {p.fingerprint})" if p.participant_id else ""
        return (f"hotline {p.hotline!r}: no pin of the far party on this device; its link "
                f"tests and calls are refused here{presented}. Import the pin (verified out of "
                f"band): hotline pin add {p.hotline} --party PARTY --fingerprint FINGERPRINT "
                "--identity IDENTITY")
    expected = ", ".join(p.expected) or "-"
    return (f"hotline {p.hotline!r}: {p.party} presents device {p.fingerprint}, which is "
            f"NOT the pinned key of {p.expected_party} (expected {expected}); refused, "
            "nothing sealed to it")


class UntrustedKey(RemoteError):
    """A hotline's far end presented a key that is not pinned here (or there is no pin):
    the call or link test is refused before anything is sealed to it."""

    def __init__(self, presented: Presented) -> None:
        self.presented = presented
        super().__init__(pin_message(presented))


class TrustPolicy:
    def __init__(self, store: TrustStore | None = None, *, path: Path | None = None,
                 accept: Iterable[str] = (), accept_new: bool = False,
                 hotline: str | None = None, quiet: bool = False) -> None:
        self.store = store if store is not None else TrustStore()
        self.path = path
        self.accept_new = accept_new
        self.accept_list = {parse_accept(a) for a in accept}
        self.hotline = hotline
        self.quiet = quiet
        #: Called with each alarm and each acceptance by option (the CLI prints them loudly);
        #: an unverified member comes as the client's `unverified` event instead.
        self.on_warning: Callable[[str], None] | None = None

    @classmethod
    def for_identity(cls, identity_path: Path, **options: object) -> TrustPolicy:
        """The policy over the trust store beside ``identity_path`` (saved there)."""
        path = trust_path(identity_path)
        return cls(TrustStore.load(path), path=path, **options)  # type: ignore[arg-type]

    @classmethod
    def accept_every_device(cls) -> TrustPolicy:
        """Accept every new party and device (logged): for tests and scripts that join
        fresh identities and verify nothing. Never the default."""
        return cls(accept_new=True, quiet=True)

    def for_hotline(self, hotline: str) -> TrustPolicy:
        """The strict policy of one hotline (same store and file)."""
        policy = TrustPolicy(self.store, path=self.path, hotline=hotline, quiet=self.quiet)
        policy.on_warning = self.on_warning
        return policy

    def has_pin(self, hotline: str) -> bool:
        return hotline in self.store.hotlines

    # -- decisions ------------------------------------------------------------------------

    def decide(self, participant_id: int, party: str, identity_key: bytes,
               own_party: str = "") -> Presented:
        """The verdict on a roster member; ``own_party``: another device of our own party
        is a new device, not a new party."""
        fp = fingerprint(identity_key)
        verdict = self.store.evaluate(party, fp, self.hotline, own_party)
        if self.hotline is not None:
            pin = self.store.hotlines.get(self.hotline)
            p = Presented(participant_id, party, fp, verdict, self.hotline,
                          tuple(pin.fingerprints) if pin else (), pin.party if pin else "")
            if not p.trusted:
                self.warn(f"ALARM: {pin_message(p)}", error=True)
            return p
        explicit = (party, canonical(fp)) in self.accept_list
        if verdict in (Verdict.NEW_PARTY, Verdict.NEW_DEVICE, Verdict.CHANGED) and (
                explicit or (self.accept_new and verdict is not Verdict.CHANGED)):
            self.accept(party, fp, source="option")
            self.warn(f"{verdict.value.replace('_', ' ')} accepted by option: {party} device "
                      f"{fp}")
            verdict = Verdict.TRUSTED
        p = Presented(participant_id, party, fp, verdict)
        if not p.trusted:  # logged; a front end shows it with its own prompt (`unverified`)
            self.warn(p.describe(), notify=False)
        return p

    def accept(self, party: str, fp: str, source: str = "accepted") -> None:
        if self.hotline is not None:
            raise UsageError("a hotline trusts its pins only: import them with "
                             "`hotline pin add`")
        self.store.set_device(party, fp, State.TRUSTED, source, now_text())
        self.save()

    def refuse(self, party: str, fp: str) -> None:
        self.store.set_device(party, fp, State.REFUSED, "refused", now_text())
        self.save()

    def save(self) -> None:
        if self.path is not None:
            self.store.save(self.path)

    def warn(self, text: str, *, error: bool = False, notify: bool = True) -> None:
        if not self.quiet or error:
            (log.error if error else log.warning)("%s", text)
        if notify and self.on_warning is not None:
            self.on_warning(text)


def parse_accept(text: str) -> tuple[str, str]:
    """``PARTY:FINGERPRINT`` (the fingerprint with or without spaces)."""
    party, sep, fp = text.partition(":")
    if not sep or not party:
        raise UsageError(f"--accept wants PARTY:FINGERPRINT, not {text[:80]!r}")
    return party, canonical(fp)


def pin_command(hotline: str, party: str, fingerprints: Iterable[str]) -> str:
    """The command that imports ``party``'s pins of ``hotline`` on the other endpoint."""
    fps = " ".join(f"--fingerprint {compact(f)}" for f in fingerprints)
    return f"hotline pin add {hotline} --party {party} {fps} --identity IDENTITY_FILE"
