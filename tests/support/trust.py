"""The one place where tests relax the clients' trust (issue #12, items 1-2).

Clients seal keys only to devices they verified. Tests that join fresh identities and
check something else (media, resume, path loss) use :func:`accept_all` explicitly;
hotline tests import the pins of the far party as an operator would have printed them
(:func:`hotline_pins`: read from the server's store by the test, i.e. out of band).
"""

from __future__ import annotations

from hotline.client.trust import TrustStore
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity, fingerprint
from hotline.server.store import SqliteStore


def accept_all() -> TrustPolicy:
    """Accept every new party and device (each logged): never a client's default."""
    return TrustPolicy.accept_every_device()


def hotline_pins(store: SqliteStore, hotline: str, me: Identity) -> TrustPolicy:
    """A policy pinning ``hotline``'s far party (the party ``me`` is not pinned for) to
    the keys the hotline was created with."""
    found = store.get_hotline(hotline)
    assert found is not None, f"no hotline {hotline}"
    far = [p for p, keys in found.pins.items() if me.public_key not in keys]
    assert len(far) == 1, "the identity must be pinned for exactly one end"
    trust = TrustStore()
    trust.pin(hotline, far[0], [fingerprint(k) for k in found.pins[far[0]]])
    return TrustPolicy(trust)
