"""Server settings: defaults, flags and environment, checked once at start."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hotline.errors import ConfigError
from hotline.server.hotline.outcomes import Thresholds
from hotline.signaling.messages import MediaPathKind
from hotline.signaling.origin import origin_of
from hotline.signaling.turn_urls import parse_turn_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_DATA = Path("hotline-data")
PATH_KINDS: tuple[MediaPathKind, ...] = ("sfu", "direct", "relay")


def path_kinds(names: Iterable[str]) -> tuple[MediaPathKind, ...]:
    """``names`` (e.g. from the command line) as path kinds, or ConfigError."""
    out: list[MediaPathKind] = []
    for name in names:
        kind = next((k for k in PATH_KINDS if k == name), None)
        if kind is None:
            raise ConfigError(f"a link-test path is one of {', '.join(PATH_KINDS)}, "
                              f"not {name!r}")
        out.append(kind)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = DEFAULT_DATA
    #: Address the SFU binds media sockets to; defaults to ``host``.
    media_host: str | None = None
    #: Seconds a joining client has to send its announcement after ``join_ack``.
    join_timeout: float = 10.0
    #: How long a participant whose connection broke keeps its seat (media, keys) for a
    #: ``resume`` on a new connection; 0 makes a broken connection a leave at once.
    resume_grace: float = 15.0
    #: ICE consent freshness of the SFU's connections (RFC 7675): seconds between checks
    #: and checks missed in a row before a connection's consent is lost (about 30 s).
    consent_interval: float = 5.0
    consent_failures: int = 6
    #: Per-connection flood limit: messages per second (burst = 2 s worth).
    max_messages_per_second: float = 200.0
    server_name: str = field(default="hotline/0.1")
    #: TLS: a certificate and key (PEM), or None for plain HTTP.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Hotlines: seconds between link tests (per-hotline override in the store), the
    #: smallest interval allowed, the first test's delay after start, the seconds of
    #: synthetic media per test, the thresholds of "degraded", how long a call rings,
    #: and where alarms are POSTed (None: log and uptime record only).
    linktest_interval: float = 3600.0
    linktest_min_interval: float = 60.0
    linktest_first_delay: float = 30.0
    linktest_duration: float = 4.0
    linktest_thresholds: Thresholds = field(default_factory=Thresholds)
    #: The media paths each scheduled link test covers, one after another: through the
    #: SFU, directly between the two ends, through the TURN relay to the SFU. None: every
    #: path this server has (:attr:`link_paths`).
    linktest_paths: tuple[MediaPathKind, ...] | None = None
    ring_timeout: float = 120.0
    alarm_webhook: str | None = None
    #: Browser origins allowed to open the signaling WebSocket besides the server's own
    #: (e.g. a `hotline web` page, "http://127.0.0.1:8765"); None allows any origin. The
    #: check protects no secret (a connection carries no ambient credential: every login is
    #: a signature by a device key kept in the browser's own origin) and nothing against
    #: this server itself; it lets an operator keep other web pages off the server.
    allowed_origins: tuple[str, ...] | None = None
    #: URLs clients reach this server by, besides the address a connection arrives at
    #: (a DNS name, a reverse proxy): login and enrollment proofs must name one of them.
    public_urls: tuple[str, ...] = ()
    #: TURN servers handed to clients (``turn:``/``turns:`` URLs, docs/OPERATIONS.md), the
    #: secret shared with them (TURN REST API; never logged, stored or shown) and how long
    #: a credential lasts (hotline.server.turn.DEFAULT_LIFETIME says why 6 hours).
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = field(default=None, repr=False)
    turn_credential_lifetime: float = 6 * 3600.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is not a TCP port")
        for name in ("host", "media_host"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ConfigError(f"{name} must be an IP address, not {value!r}") from None
        if self.consent_interval <= 0 or self.consent_failures < 1:
            raise ConfigError("consent interval must be positive and failures at least 1")
        if self.join_timeout <= 0 or self.max_messages_per_second <= 0:
            raise ConfigError("timeouts and rates must be positive")
        if self.linktest_interval < self.linktest_min_interval:
            raise ConfigError(f"the link-test interval must be at least "
                              f"{self.linktest_min_interval:g} s")
        if min(self.linktest_first_delay, self.linktest_duration, self.ring_timeout) <= 0:
            raise ConfigError("link-test delay, duration and ring timeout must be positive")
        paths = self.linktest_paths
        if paths is not None and (not paths or len(set(paths)) != len(paths)
                                  or not set(paths) <= set(PATH_KINDS)):
            raise ConfigError(f"link-test paths are one or more of {', '.join(PATH_KINDS)}, "
                              f"each once, not {', '.join(paths) or 'none'}")
        if paths is not None and "relay" in paths and not self.turn_urls:
            raise ConfigError("the relay link-test path needs a TURN server (--turn-url)")
        if self.alarm_webhook is not None and not self.alarm_webhook.startswith(
                ("http://", "https://")):
            raise ConfigError("--alarm-webhook must be an http:// or https:// URL")
        for origin in self.allowed_origins or ():
            if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise ConfigError(f"an allowed origin is scheme://host[:port], not {origin!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        for url in self.public_urls:
            try:
                origin_of(url)
            except ValueError:
                raise ConfigError(f"--public-url {url!r} is not an http(s):// URL") from None

        for url in self.turn_urls:
            try:
                parse_turn_url(url)
            except ValueError as exc:
                raise ConfigError(f"--turn-url: {exc}") from None
        if self.turn_urls and not self.turn_secret:
            raise ConfigError("--turn-url needs the TURN server's shared secret "
                              "(--turn-secret-file or HOTLINE_TURN_SECRET)")
        if self.turn_secret is not None and not self.turn_urls:
            raise ConfigError("a TURN secret is set but no --turn-url")
        if not 60 <= self.turn_credential_lifetime <= 7 * 86400:
            raise ConfigError("the TURN credential lifetime must be from 60 s to 7 days")

    @property
    def public_origins(self) -> frozenset[str]:
        """The configured public URLs as origins (hotline.crypto.auth.origin_of)."""
        return frozenset(origin_of(url) for url in self.public_urls)

    @property
    def link_paths(self) -> tuple[MediaPathKind, ...]:
        """The paths each link test covers: as set, else the SFU, the direct path (every
        hotline call has one) and, with a TURN server, the relay."""
        if self.linktest_paths is not None:
            return self.linktest_paths
        return ("sfu", "direct", *(("relay",) if self.turn_urls else ()))

    @property
    def media_address(self) -> str:
        return self.media_host or self.host

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls_cert is not None else "http"
        return f"{scheme}://{host}:{self.port}/"
