"""The self-signed certificate files of ``hotline serve --tls-self-signed``."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from hotline.crypto import tls
from hotline.errors import ConfigError

CERT, KEY = "tls-self-signed.crt", "tls-self-signed.key"


def self_signed_files(folder: Path, names: list[str]) -> tuple[Path, Path, str]:
    """Write (or reuse, while it covers ``names``) a certificate and its key (0600) in
    ``folder``; returns their paths and the certificate's fingerprint."""
    cert_path, key_path = folder / CERT, folder / KEY
    now = datetime.datetime.now(datetime.UTC)
    try:
        if cert_path.exists() and key_path.exists() and tls.covers(
                cert_path.read_bytes(), names, now):
            return cert_path, key_path, tls.fingerprint(cert_path.read_bytes())
        cert_pem, key_pem = tls.self_signed(names, now)
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key_pem)
        cert_path.write_bytes(cert_pem)
    except OSError as exc:
        raise ConfigError(f"cannot write the TLS certificate in {folder}: {exc.strerror}") from None
    return cert_path, key_path, tls.fingerprint(cert_pem)
