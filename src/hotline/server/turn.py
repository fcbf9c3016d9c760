"""TURN credentials for each call: the TURN REST API's shared-secret scheme, as coturn
implements it (``use-auth-secret`` + ``static-auth-secret``).

For every ``joined`` and ``resumed`` the server makes a credential that coturn accepts
without any call between the two: the username is ``<expiry unix time>:<participant>``
and the credential is base64(HMAC-SHA1(secret, username)). coturn checks both, and the
expiry, on every authenticated request (the allocation's refreshes included), so a
credential must outlive the call it is for (:data:`DEFAULT_LIFETIME`).

The secret stays in :class:`TurnCredentials`: it is never logged, never in an error and
never stored; ``repr`` hides it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

from hotline.signaling import messages as m

#: Seconds a credential is valid: a 4-hour call (coturn refuses the allocation's
#: refreshes once the username's expiry has passed, which would drop the relay in the
#: middle of the call), plus 2 hours for clocks that disagree between this server and
#: the TURN server and for a call that rings or is resumed late. Every ``resumed`` gets a
#: fresh one.
DEFAULT_LIFETIME = 6 * 3600


def credential(secret: bytes, username: str) -> str:
    """base64(HMAC-SHA1(secret, username)): the password coturn expects for ``username``."""
    return base64.b64encode(hmac.new(secret, username.encode(), hashlib.sha1).digest()).decode()


class TurnCredentials:
    """Makes the ``ice_servers`` of a call from the configured TURN URLs and secret."""

    def __init__(self, urls: tuple[str, ...], secret: bytes, lifetime: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.urls = urls
        self._secret = secret
        self.lifetime = lifetime
        self._clock = clock

    def __repr__(self) -> str:
        return f"TurnCredentials(urls={self.urls!r}, lifetime={self.lifetime:g})"

    def ice_servers(self, participant: str) -> list[m.IceServer]:
        """The TURN servers and a credential for ``participant`` (a short label, not a
        secret: it shows in the TURN server's logs)."""
        if not self.urls:
            return []
        username = f"{int(self._clock() + self.lifetime)}:{participant}"
        return [m.IceServer(urls=list(self.urls), username=username,
                            credential=credential(self._secret, username))]


def no_turn(participant: str) -> list[m.IceServer]:
    """No TURN configured: clients reach the SFU directly."""
    return []
