"""A self-signed TLS certificate for a quick trial on a local network.

Browsers give cameras only to secure contexts: ``http://127.0.0.1`` is one, a LAN
address is not. ``hotline serve --tls-self-signed`` uses this to serve HTTPS/WSS with a
certificate that browsers warn about (their users must accept it once); a real
deployment uses ``--tls-cert``/``--tls-key`` with a certificate from a CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hotline.errors import ConfigError

VALID_DAYS = 30


def self_signed(folder: Path, names: list[str]) -> tuple[Path, Path]:
    """Write ``tls-self-signed.crt`` and ``.key`` (mode 0600) into ``folder`` for
    ``names`` (IP addresses or DNS names); returns their paths. Reused while valid."""
    cert_path, key_path = folder / "tls-self-signed.crt", folder / "tls-self-signed.key"
    if cert_path.exists() and key_path.exists() and _still_good(cert_path, names):
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hotline (self-signed)")])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(key, hashes.SHA256()))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise ConfigError(f"cannot write the TLS certificate in {folder}: {exc.strerror}") from None
    return cert_path, key_path


def _still_good(cert_path: Path, names: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, OSError, x509.ExtensionNotFound):
        return False
    present = {str(v) for v in alt.get_values_for_type(x509.IPAddress)}
    present |= set(alt.get_values_for_type(x509.DNSName))
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return set(names) <= present and left > datetime.timedelta(days=1)


def fingerprint(cert_path: Path) -> str:
    """SHA-256 of the certificate, as browsers show it (to compare before accepting)."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()
