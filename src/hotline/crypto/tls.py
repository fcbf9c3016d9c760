"""A self-signed TLS certificate for a quick trial on a local network. PURE.

Browsers give cameras only to secure contexts: ``http://127.0.0.1`` is one, a LAN
address is not. ``hotline serve --tls-self-signed`` serves HTTPS/WSS with a certificate
made here, which browsers warn about (users must accept it once); a real deployment
uses ``--tls-cert``/``--tls-key`` with a certificate from a CA. The files are written by
:mod:`hotline.server.tls_files`.
"""

from __future__ import annotations

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 30


def self_signed(names: list[str], now: datetime.datetime) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for ``names`` (IP addresses or DNS names)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hotline (self-signed)")])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def covers(cert_pem: bytes, names: list[str], now: datetime.datetime) -> bool:
    """True if the certificate names all of ``names`` and is valid for another day."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    present = {str(v) for v in alt.get_values_for_type(x509.IPAddress)}
    present |= set(alt.get_values_for_type(x509.DNSName))
    return set(names) <= present and cert.not_valid_after_utc - now > datetime.timedelta(days=1)


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate, as browsers show it (to compare before accepting)."""
    return x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256()).hex(":").upper()
