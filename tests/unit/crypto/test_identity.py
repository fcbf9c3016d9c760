"""hotline.crypto.identity: Ed25519 identities, fingerprints and key files.

One file (over 400 lines) on purpose: one test module per module, and the identity
file format has many ways to be wrong."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from hotline.crypto.identity import (
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    Identity,
    fingerprint,
    fingerprint_bytes,
    verify,
)
from hotline.errors import CryptoError, IdentityError, Reason

# RFC 8032 section 7.1, TEST 1 (empty message).
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

SEED = bytes(range(100, 132))
PASSPHRASE = b"correct horse battery staple"
FINGERPRINT_RE = re.compile(r"^[0-9a-f]{4}( [0-9a-f]{4}){7}$")


def secret_forms(seed: bytes) -> list[str]:
    """Ways a private key could leak into a string."""
    return [seed.hex(), seed.hex().upper(), repr(seed), base64.b64encode(seed).decode()]


def identity_error(fn: object, *args: object) -> IdentityError:
    with pytest.raises(IdentityError) as err:
        fn(*args)  # type: ignore[operator]
    return err.value


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_0600(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# -- keys, signatures, fingerprints -------------------------------------------------


def test_sizes() -> None:
    assert PUBLIC_KEY_SIZE == 32
    assert SIGNATURE_SIZE == 64


def test_generate_gives_fresh_keys() -> None:
    a, b = Identity.generate(), Identity.generate()
    assert isinstance(a.public_key, bytes)
    assert len(a.public_key) == PUBLIC_KEY_SIZE
    assert a.public_key != b.public_key
    assert a.fingerprint != b.fingerprint


def test_from_seed_matches_rfc8032() -> None:
    ident = Identity.from_seed(RFC8032_SECRET)
    assert ident.public_key == RFC8032_PUBLIC
    assert ident.sign(b"") == RFC8032_SIGNATURE
    assert verify(RFC8032_PUBLIC, RFC8032_SIGNATURE, b"")


def test_from_seed_is_deterministic() -> None:
    assert Identity.from_seed(SEED).public_key == Identity.from_seed(SEED).public_key


def test_sign_and_verify() -> None:
    ident = Identity.generate()
    sig = ident.sign(b"hello")
    assert len(sig) == SIGNATURE_SIZE
    assert verify(ident.public_key, sig, b"hello")
    assert not verify(ident.public_key, sig, b"hellO")
    assert not verify(ident.public_key, sig, b"")
    assert not verify(Identity.generate().public_key, sig, b"hello")


@pytest.mark.parametrize("index", [0, 31, 32, 63])
def test_verify_rejects_tampered_signature(index: int) -> None:
    ident = Identity.generate()
    sig = bytearray(ident.sign(b"msg"))
    sig[index] ^= 0x01
    assert not verify(ident.public_key, bytes(sig), b"msg")


def test_verify_returns_false_on_bad_sizes_or_keys() -> None:
    ident = Identity.generate()
    sig = ident.sign(b"m")
    assert verify(ident.public_key, sig, b"m")
    assert not verify(ident.public_key[:31], sig, b"m")
    assert not verify(ident.public_key + b"\x00", sig, b"m")
    assert not verify(ident.public_key, sig[:63], b"m")
    assert not verify(ident.public_key, sig + b"\x00", b"m")
    assert not verify(b"", b"", b"m")
    assert not verify(b"\x00" * 32, b"\x00" * 64, b"m")
    assert not verify(b"\xff" * 32, sig, b"m")


def test_fingerprint_format_and_stability() -> None:
    a = Identity.from_seed(SEED)
    b = Identity.from_seed(SEED)
    assert FINGERPRINT_RE.match(a.fingerprint)
    assert len(a.fingerprint.split(" ")) == 8
    assert a.fingerprint == b.fingerprint == fingerprint(a.public_key)
    assert a.fingerprint == fingerprint(a.public_key)  # property is recomputed the same


def test_fingerprint_matches_documented_formula() -> None:
    pub = Identity.from_seed(SEED).public_key
    digest = hashlib.sha256(b"hotline/v1 identity fingerprint\x00" + pub).digest()
    assert fingerprint_bytes(pub) == digest
    hexed = digest[:16].hex()
    assert fingerprint(pub) == " ".join(hexed[i : i + 4] for i in range(0, 32, 4))


def test_fingerprint_differs_between_keys() -> None:
    seen = {Identity.from_seed(bytes([i]) * 32).fingerprint for i in range(20)}
    assert len(seen) == 20
    assert all(FINGERPRINT_RE.match(f) for f in seen)


def test_repr_and_str_show_fingerprint_not_private_key() -> None:
    ident = Identity.from_seed(SEED)
    pem = ident._private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pem_body = "".join(pem.splitlines()[1:-1])
    for text in (repr(ident), str(ident), f"{ident}", f"{ident!r}"):
        assert ident.fingerprint in text
        for leak in [*secret_forms(SEED), pem_body]:
            assert leak not in text


def test_identity_has_no_instance_dict() -> None:
    ident = Identity.generate()
    assert not hasattr(ident, "__dict__")


# -- saving -----------------------------------------------------------------------


def test_save_creates_mode_0600_file(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    ident = Identity.generate()
    ident.save(path)
    assert mode_of(path) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert Identity.load(path).public_key == ident.public_key


@pytest.mark.usefixtures("umask_000")
def test_save_is_0600_even_with_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    Identity.generate().save(path, PASSPHRASE)
    assert mode_of(path) == 0o600


def test_save_accepts_str_path(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    ident = Identity.generate()
    ident.save(str(path))
    assert Identity.load(str(path)).public_key == ident.public_key


def test_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    Identity.generate().save(tmp_path / "id.pem", PASSPHRASE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id.pem"]


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    first = Identity.generate()
    first.save(path)
    before = path.read_bytes()
    err = identity_error(Identity.generate().save, path)
    assert err.reason is Reason.FILE
    assert "exists" in str(err)
    assert path.read_bytes() == before
    assert Identity.load(path).public_key == first.public_key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id.pem"]


def test_save_refuses_to_overwrite_any_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"not a key")
    assert identity_error(Identity.generate().save, path).reason is Reason.FILE
    assert path.read_bytes() == b"not a key"


def test_save_overwrite_true_replaces(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    Identity.generate().save(path)
    second = Identity.generate()
    second.save(path, overwrite=True)
    assert Identity.load(path).public_key == second.public_key
    assert mode_of(path) == 0o600


def test_save_overwrite_tightens_mode_of_replaced_file(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    path.write_bytes(b"old")
    path.chmod(0o644)
    ident = Identity.generate()
    ident.save(path, overwrite=True)
    assert mode_of(path) == 0o600
    assert Identity.load(path).public_key == ident.public_key


def test_save_with_overlong_passphrase_writes_nothing(tmp_path: Path) -> None:
    # cryptography refuses passphrases over 1023 bytes; whatever is raised, no file
    # (and no temporary file) may be left behind.
    with pytest.raises((IdentityError, ValueError)):
        Identity.generate().save(tmp_path / "id.pem", b"a" * 2000)
    assert list(tmp_path.iterdir()) == []


def test_save_into_missing_folder_is_file_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "id.pem"
    err = identity_error(Identity.generate().save, path, PASSPHRASE)
    assert err.reason is Reason.FILE
    assert not (tmp_path / "no").exists()


def test_save_onto_directory_with_overwrite_is_file_error(tmp_path: Path) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    with pytest.raises(IdentityError) as err:
        Identity.generate().save(target, overwrite=True)
    assert err.value.reason is Reason.FILE
    assert target.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]  # temp file cleaned up


# -- passphrases --------------------------------------------------------------------


def test_passphrase_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    ident = Identity.generate()
    ident.save(path, PASSPHRASE)
    data = path.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert PASSPHRASE not in data
    loaded = Identity.load(path, PASSPHRASE)
    assert loaded.public_key == ident.public_key
    assert loaded.sign(b"x") == ident.sign(b"x")  # Ed25519 is deterministic


def test_missing_passphrase_is_passphrase_error(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    Identity.generate().save(path, PASSPHRASE)
    assert identity_error(Identity.load, path).reason is Reason.PASSPHRASE
    assert identity_error(Identity.load, path, None).reason is Reason.PASSPHRASE
    assert identity_error(Identity.load, path, b"").reason is Reason.PASSPHRASE


@pytest.mark.parametrize(
    "wrong", [b"wrong", PASSPHRASE + b"\n", PASSPHRASE.upper(), PASSPHRASE[:-1], b"\x00"]
)
def test_wrong_passphrase_is_passphrase_error(tmp_path: Path, wrong: bytes) -> None:
    path = tmp_path / "id.pem"
    Identity.generate().save(path, PASSPHRASE)
    err = identity_error(Identity.load, path, wrong)
    assert err.reason is Reason.PASSPHRASE
    assert isinstance(err, CryptoError)


def test_unencrypted_file_loads_even_if_passphrase_given(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    ident = Identity.generate()
    ident.save(path)
    assert Identity.load(path, b"unused").public_key == ident.public_key


def test_errors_never_contain_secrets(tmp_path: Path) -> None:
    ident = Identity.from_seed(SEED)
    enc = tmp_path / "enc.pem"
    ident.save(enc, PASSPHRASE)
    plain = tmp_path / "plain.pem"
    ident.save(plain)
    pem_bodies = [
        "".join(p.read_text().splitlines()[1:-1]) for p in (enc, plain)
    ]
    loose = tmp_path / "loose.pem"
    ident.save(loose)
    loose.chmod(0o644)

    errors = [
        identity_error(Identity.load, enc),
        identity_error(Identity.load, enc, b"not the passphrase"),
        identity_error(Identity.load, loose, PASSPHRASE),
        identity_error(Identity.load, tmp_path / "missing.pem", PASSPHRASE),
        identity_error(ident.save, enc, PASSPHRASE),
    ]
    secrets = [*secret_forms(SEED), *pem_bodies, PASSPHRASE.decode(), "not the passphrase"]
    for err in errors:
        texts = [str(err), repr(err), err.detail, *map(str, err.args)]
        for text in texts:
            for leak in secrets:
                assert leak not in text, (err.reason, leak)


# -- loading: permissions and bad files ---------------------------------------------


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o666, 0o700 | 0o040])
def test_group_or_world_readable_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "id.pem"
    Identity.generate().save(path)
    path.chmod(mode)
    err = identity_error(Identity.load, path)
    assert err.reason is Reason.PERMISSIONS
    assert "chmod 600" in str(err)


def test_permissions_checked_before_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    Identity.generate().save(path, PASSPHRASE)
    path.chmod(0o644)
    assert identity_error(Identity.load, path, PASSPHRASE).reason is Reason.PERMISSIONS
    assert identity_error(Identity.load, path).reason is Reason.PERMISSIONS


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_modes_are_accepted(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "id.pem"
    ident = Identity.generate()
    ident.save(path)
    path.chmod(mode)
    assert Identity.load(path).public_key == ident.public_key


def test_missing_file_is_file_error(tmp_path: Path) -> None:
    err = identity_error(Identity.load, tmp_path / "nope.pem")
    assert err.reason is Reason.FILE
    assert "nope.pem" in str(err)


def test_directory_is_file_error(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir(mode=0o700)
    d.chmod(0o700)
    assert identity_error(Identity.load, d).reason is Reason.FILE


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\x00\xff" * 100,
        b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\nnot base64!!\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN PUBLIC KEY-----\n"
        b"MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
        b"-----END PUBLIC KEY-----\n",
    ],
    ids=["empty", "text", "binary", "empty-pem", "bad-base64", "public-key"],
)
def test_garbage_file_is_file_error(tmp_path: Path, data: bytes) -> None:
    path = write_0600(tmp_path / "id.pem", data)
    assert identity_error(Identity.load, path).reason is Reason.FILE
    assert identity_error(Identity.load, path, PASSPHRASE).reason is Reason.FILE


def test_x25519_pkcs8_key_is_file_error(tmp_path: Path) -> None:
    key = x25519.X25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = write_0600(tmp_path / "x.pem", pem)
    err = identity_error(Identity.load, path)
    assert err.reason is Reason.FILE
    assert "Ed25519" in str(err)


def test_encrypted_x25519_pkcs8_key_is_file_error(tmp_path: Path) -> None:
    key = x25519.X25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE),
    )
    path = write_0600(tmp_path / "x.pem", pem)
    assert identity_error(Identity.load, path, PASSPHRASE).reason is Reason.FILE


def test_ec_key_is_file_error(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = write_0600(tmp_path / "ec.pem", pem)
    assert identity_error(Identity.load, path).reason is Reason.FILE


def test_pkcs8_with_unknown_algorithm_is_file_error(tmp_path: Path) -> None:
    """A well-formed PKCS#8 PEM whose algorithm OID is unknown (1.3.101.127).

    BUG (fails at the time of writing): cryptography raises UnsupportedAlgorithm,
    which Identity.load does not catch, so it escapes instead of IdentityError(FILE).
    """
    # PrivateKeyInfo { version 0, AlgorithmIdentifier { 1.3.101.127 }, OCTET STRING }
    der = bytes.fromhex("302e020100300506032b657f04220420") + bytes(32)
    pem = (
        b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der)
        + b"-----END PRIVATE KEY-----\n"
    )
    path = write_0600(tmp_path / "odd.pem", pem)
    assert identity_error(Identity.load, path).reason is Reason.FILE


def test_truncated_identity_file_is_an_identity_error(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    Identity.generate().save(path)
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        write_0600(path, data[:cut])
        assert identity_error(Identity.load, path).reason is Reason.FILE


def test_corrupted_encrypted_file_is_an_identity_error(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    Identity.generate().save(path, PASSPHRASE)
    lines = path.read_bytes().splitlines(keepends=True)
    last = lines[-2]  # last base64 line: the tail of the ciphertext
    lines[-2] = (b"B" if last[:1] == b"A" else b"A") + last[1:]
    write_0600(path, b"".join(lines))
    err = identity_error(Identity.load, path, PASSPHRASE)
    assert err.reason in (Reason.PASSPHRASE, Reason.FILE)
