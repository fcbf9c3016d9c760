"""A real coturn (Debian's ``turnserver``) for the relay tests, started in the suite's
loopback-only namespace.

It listens for clients on one loopback address (UDP and TCP on :data:`PORT`, TLS on
:data:`TLS_PORT` with a self-signed certificate made here) and relays from another one,
so that a test can block UDP to the TURN listener without touching the relayed media.
Credentials are the TURN REST API's (``--use-auth-secret``): the shared secret is in the
configuration file, not on the command line.

:class:`Firewall` blocks traffic in the test's namespace with ``ip rule ... blackhole``
(by address, protocol and port), as tests/integration/test_path_loss.py does.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Where coturn listens for clients, and the address its relayed endpoints use.
LISTEN = "127.0.0.20"
RELAY = "127.0.0.21"
PORT = 3478
TLS_PORT = 5349


def self_signed(address: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the IP ``address`` and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hotline test TURN")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "turn-cert.pem", folder / "turn-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@dataclass
class Coturn:
    folder: Path
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    realm: str = "hotline.test"
    process: subprocess.Popen[bytes] | None = None
    cert: Path | None = None

    @property
    def log_file(self) -> Path:
        return self.folder / "turnserver.log"

    def urls(self, *transports: str) -> list[str]:
        """TURN URLs of this server: ``udp``, ``tcp``, ``tls``."""
        out = []
        for t in transports or ("udp", "tcp", "tls"):
            out.append(f"turns:{LISTEN}:{TLS_PORT}?transport=tcp" if t == "tls"
                       else f"turn:{LISTEN}:{PORT}?transport={t}")
        return out

    def start(self, timeout: float = 15.0) -> None:
        binary = shutil.which("turnserver")
        assert binary, "coturn is not installed (scripts/setup-system.sh installs it)"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cert, key = self_signed(LISTEN, self.folder)
        conf = self.folder / "turnserver.conf"
        conf.write_text("\n".join([
            f"listening-ip={LISTEN}", f"relay-ip={RELAY}",
            f"listening-port={PORT}", f"tls-listening-port={TLS_PORT}",
            "min-port=49152", "max-port=49999",
            "use-auth-secret", f"static-auth-secret={self.secret}", f"realm={self.realm}",
            f"cert={self.cert}", f"pkey={key}", "no-dtls",
            "allow-loopback-peers", "no-cli", "no-multicast-peers",
            "fingerprint", "simple-log", "no-stdout-log",
            f"log-file={self.log_file}", f"pidfile={self.folder / 'turnserver.pid'}",
            f"userdb={self.folder / 'turndb'}", "no-software-attribute", "",
        ]))
        conf.chmod(0o600)
        self.process = subprocess.Popen([binary, "-c", str(conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read() if self.process.stderr else b""
                raise RuntimeError(f"turnserver exited: {err.decode(errors='replace')}"
                                   f"\n{self.log()}")
            if _tcp_open(LISTEN, PORT) and _tcp_open(LISTEN, TLS_PORT):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"turnserver did not listen within {timeout} s\n{self.log()}")

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


PREFS = ("11", "12", "13", "14", "15", "16")


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


class Firewall:
    """Blackhole rules in the test's namespace (the ``local`` table's rule moves behind
    them, as in test_path_loss.py), all removed at the end."""

    def __init__(self) -> None:
        self.prefs: list[str] = []

    def setup(self) -> None:
        added = ip("rule", "add", "pref", "100", "table", "local")
        # The suite runs in a namespace of its own (scripts/in-loopback-netns.sh), where
        # it may change routing: failing to is an error, not a reason to skip.
        assert added.returncode == 0, f"cannot change routing rules (ip rule): {added.stderr}"
        ip("rule", "del", "pref", "0")

    def block(self, *selector: str) -> None:
        """Drop what matches ``selector`` (e.g. ``to ADDR ipproto udp``)."""
        pref = PREFS[len(self.prefs)]
        done = ip("rule", "add", *selector, "blackhole", "pref", pref)
        assert done.returncode == 0, done.stderr
        self.prefs.append(pref)

    def block_udp_of(self, address: str) -> None:
        """No UDP from or to ``address``, nor to the TURN listener (a client at
        ``address`` behind a firewall that lets no UDP through)."""
        self.block("from", address, "ipproto", "udp")
        self.block("to", address, "ipproto", "udp")
        self.block("to", LISTEN, "ipproto", "udp")

    def clear(self) -> None:
        """Lift every rule added so far (the path comes back)."""
        for pref in self.prefs:
            ip("rule", "del", "pref", pref)
        self.prefs.clear()

    def teardown(self) -> None:
        self.clear()
        ip("rule", "add", "pref", "0", "table", "local")
        ip("rule", "del", "pref", "100")


@pytest.fixture
def firewall() -> Iterator[Firewall]:
    wall = Firewall()
    wall.setup()
    try:
        yield wall
    finally:
        wall.teardown()


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    """A coturn of the test's own (files in its tmp_path), stopped after it."""
    server = Coturn(tmp_path / "coturn")
    server.start()
    try:
        yield server
    finally:
        server.stop()
