"""No secret in any log line or in the database (issue #7, "auth and secrets").

A whole call runs with every logger at DEBUG (Hotline's, aiohttp's, aiortc's, aioice's):
enrollment of three devices, two publishing participants with media through the SFU, a
third that joins (key exchange) and leaves (rekey). Every secret that passes through
the clients and the server is collected on the way: enrollment codes, Ed25519 identity
private keys, HPKE call-key private keys, the sender base keys (what HPKE carries), the
SFrame keys, salts and secrets derived from them, the authentication signatures, and the
TURN shared secret (the server hands out credentials made with it for a real coturn).
None may appear in any log record (raw, hex, base64, base64url or repr), nor in the
SQLite files (database and WAL).

HPKE's own shared secret is computed inside ``cryptography`` and never reaches Python
code, so it is not collected; the base key it protects is.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path
from typing import Any

import pytest

from hotline.client import signaling as client_signaling
from hotline.client.call import Call
from hotline.client.signaling import SignalingClient
from hotline.crypto import sframe
from hotline.crypto.identity import Identity
from hotline.crypto.keyschedule import InstallDecryptionKey, InstallEncryptionKey
from hotline.crypto.mediakeys import MediaKeys
from hotline.server.database import DB_NAME

from ..support.coturn import Coturn
from ..support.server import start_server
from ..support.trust import accept_all

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]


class Secrets:
    def __init__(self) -> None:
        self.items: dict[str, bytes | str] = {}

    def add(self, label: str, value: bytes | str) -> None:
        if value:
            self.items[f"{label}#{len(self.items)}"] = value

    def forms(self) -> dict[str, list[str | bytes]]:
        """Every way a secret could show up in text or in a file."""
        out: dict[str, list[str | bytes]] = {}
        for label, v in self.items.items():
            if isinstance(v, str):
                out[label] = [v, v.replace("-", ""), v.encode()]
                continue
            out[label] = [v, v.hex(), v.hex().upper(), repr(v),
                          base64.b64encode(v).decode().rstrip("="),
                          base64.urlsafe_b64encode(v).decode().rstrip("=")]
        return out


def private_bytes(key: Any) -> bytes:
    raw = key._private.private_bytes_raw
    return bytes(raw())


async def test_no_secret_in_logs_or_database(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch,
                                             coturn: Coturn) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = Secrets()

    original_apply = MediaKeys.apply

    def apply(self: MediaKeys, actions: list[Any]) -> Any:
        for a in actions:
            if isinstance(a, InstallEncryptionKey | InstallDecryptionKey):
                secrets.add("base key", a.base_key)
        return original_apply(self, actions)

    monkeypatch.setattr(MediaKeys, "apply", apply)
    original_derive = sframe.derive_key_salt

    def derive(suite: int, kid: int, base_key: bytes) -> Any:
        d = original_derive(suite, kid, base_key)
        for name in ("secret", "key", "salt"):
            secrets.add(f"sframe {name}", getattr(d, name))
        return d

    monkeypatch.setattr(sframe, "derive_key_salt", derive)
    original_prove = client_signaling.prove

    def prove(identity: Identity, *args: Any, **kwargs: Any) -> bytes:
        sig = original_prove(identity, *args, **kwargs)
        secrets.add("auth signature", sig)
        return sig

    monkeypatch.setattr(client_signaling, "prove", prove)

    data = tmp_path / "data"
    srv = await start_server(data, join_timeout=5.0, turn_urls=tuple(coturn.urls("udp", "tcp")),
                             turn_secret=coturn.secret)
    secrets.add("turn secret", coturn.secret)
    names = ("alice", "bob", "carol")
    srv.room("summit", list(names))
    identities = {n: Identity.generate() for n in names}
    for ident in identities.values():
        secrets.add("identity private key", private_bytes(ident))
    calls: list[Call] = []
    carol: SignalingClient | None = None
    try:
        for n in ("alice", "bob"):
            code = srv.store.new_enrollment_code(n)
            secrets.add("enrollment code", code)
            call = Call(srv.url, identities[n], "summit", video_size=(160, 120),
                        trust_policy=accept_all())
            await call.start(enroll_code=code)
            assert call.signaling.schedule is not None
            assert call.signaling.ice_servers  # TURN credentials made with the secret
            secrets.add("call private key", private_bytes(call.signaling.schedule.call_key))
            calls.append(call)
        code = srv.store.new_enrollment_code("carol")
        secrets.add("enrollment code", code)
        carol = SignalingClient(srv.url, identities["carol"], trust=accept_all())
        await carol.connect()
        await carol.enroll(code)
        await carol.join("summit")
        assert carol.schedule is not None
        secrets.add("call private key", private_bytes(carol.schedule.call_key))
        await asyncio.sleep(3.0)  # media flows; carol got everyone's keys
        await carol.leave()
        await asyncio.sleep(1.0)  # the rekey after the leave
        decrypted = [r["video_frames_decrypted"] for c in calls
                     for r in c.stats().remote.values()]
        assert decrypted and min(decrypted) > 10  # a real call took place
    finally:
        for c in calls:
            await c.close()
        if carol is not None:
            await carol.close()
        await srv.runner.cleanup()
    kinds = {label.split("#")[0] for label in secrets.items}
    assert kinds == {"base key", "sframe secret", "sframe key", "sframe salt",
                     "auth signature", "identity private key", "enrollment code",
                     "call private key", "turn secret"}
    assert len(caplog.records) > 50  # DEBUG logging was on (positive control)

    text = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    db_files = {p.name: p.read_bytes() for p in data.iterdir()
                if p.name.startswith(DB_NAME)}
    assert DB_NAME in db_files
    found = []
    for label, forms in secrets.forms().items():
        for form in forms:
            if isinstance(form, str) and len(form) >= 8 and form in text:
                found.append(f"{label} in the logs as {form[:12]!r}...")
            for fname, blob in db_files.items():
                needle = form if isinstance(form, bytes) else form.encode()
                if len(needle) >= 8 and needle in blob:
                    found.append(f"{label} in {fname}")
    srv.store.close()
    assert not found, "\n".join(sorted(set(found)))
