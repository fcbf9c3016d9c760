"""Device identity: an Ed25519 key pair that never leaves the device.

The private key is kept in a PKCS#8 PEM file created with mode 0600 (optionally
encrypted with a passphrase); loading refuses a file that others can read, as ssh
does. The fingerprint is a stable, printable digest of the public key.

This and :mod:`hotline.crypto` as a whole do no I/O but for these key files.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hotline.crypto.ed25519_checks import public_key_problem, signature_problem
from hotline.errors import IdentityError, Reason

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
_FINGERPRINT_LABEL = b"hotline/v1 identity fingerprint\x00"


def fingerprint_bytes(public_key: bytes) -> bytes:
    """SHA-256 over a label and the raw 32-byte public key."""
    return hashlib.sha256(_FINGERPRINT_LABEL + public_key).digest()


def fingerprint(public_key: bytes) -> str:
    """First 128 bits of :func:`fingerprint_bytes` as 8 groups of 4 hex digits."""
    hexed = fingerprint_bytes(public_key)[:16].hex()
    return " ".join(hexed[i : i + 4] for i in range(0, 32, 4))


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message``.

    Strict (:mod:`hotline.crypto.ed25519_checks`): a non-canonical or small-order key or
    R, or S >= L, never verifies, whatever the library would say."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    if public_key_problem(public_key) is not None or signature_problem(signature) is not None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def check_public_key(public_key: bytes) -> None:
    """Raise :class:`IdentityError` (reason ``weak_key``) for a key :func:`verify` would
    never accept: wrong length, non-canonical, not a point, small order."""
    problem = public_key_problem(public_key)
    if problem is not None:
        raise IdentityError(Reason.WEAK_KEY, f"not a usable Ed25519 public key ({problem})")


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (best effort: some filesystems refuse directory fsync)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Identity:
    """An Ed25519 identity key pair. ``repr`` and ``str`` never show the private key."""

    __slots__ = ("_private", "public_key")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key: bytes = private_key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> Identity:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        """Deterministic identity from 32 bytes (test vectors and tests only)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"Identity(fingerprint={self.fingerprint!r})"

    # -- key files -----------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], passphrase: bytes | None = None,
             *, overwrite: bool = False) -> None:
        """Write the private key to ``path`` with mode 0600.

        An existing file is kept unless ``overwrite`` is true: an identity lost by
        mistake cannot be recovered. The file is written to a temporary name in the
        same folder, synced, then renamed, so a crash never leaves half a key.
        """
        target = Path(path)
        if target.exists() and not overwrite:
            raise IdentityError(Reason.FILE, f"{target} exists; not overwriting an identity")
        if passphrase is not None and not passphrase:
            raise IdentityError(Reason.PASSPHRASE, "empty passphrase (pass None for none)")
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        try:
            pem = self._private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
        except ValueError:
            raise IdentityError(Reason.PASSPHRASE, "passphrase not usable (too long?)") from None
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)  # in case the umask or filesystem changed it
            if overwrite:
                os.replace(tmp, target)
            else:
                os.link(tmp, target)  # fails if the target appeared meanwhile
                os.unlink(tmp)
            _fsync_dir(target.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise IdentityError(Reason.FILE, f"cannot write {target}: {exc.strerror}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: bytes | None = None) -> Identity:
        """Read an identity written by :meth:`save`; refuse group/world-readable files."""
        source = Path(path)
        try:
            mode = source.stat().st_mode
            data = source.read_bytes()
        except OSError as exc:
            raise IdentityError(Reason.FILE, f"cannot read {source}: {exc.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise IdentityError(
                Reason.PERMISSIONS,
                f"{source} is accessible by other users; run: chmod 600 {source}",
            )
        encrypted = b"ENCRYPTED PRIVATE KEY" in data
        if encrypted and not passphrase:
            raise IdentityError(Reason.PASSPHRASE, f"{source} is protected by a passphrase")
        try:
            key = serialization.load_pem_private_key(
                data, password=passphrase if encrypted else None
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):
            if encrypted:
                raise IdentityError(Reason.PASSPHRASE, "wrong passphrase") from None
            raise IdentityError(Reason.FILE, f"{source} is not a Hotline identity") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityError(Reason.FILE, f"{source} is not an Ed25519 identity")
        return cls(key)
