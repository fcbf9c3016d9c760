"""The uptime-record heads a standby knows, kept beside its identity file.

``<identity file>.record.json`` (mode 0600) holds, per hotline, the
:class:`~hotline.crypto.chainwatch.KnownChain`: the number of entries seen, the hashes of
the last of them, the reports this device signed whose entries it has not seen yet, and
an open alarm (a rewritten or forked history). Deleting the file (or the hotline's part
of it) makes the standby accept the server's record as it is now, like a first start:
only do that after looking into the alarm.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from hotline.crypto.chainwatch import KnownChain

log = logging.getLogger("hotline.standby")
SUFFIX = ".record.json"


def path_for(identity_file: Path) -> Path:
    return identity_file.with_name(identity_file.name + SUFFIX)


class RecordHeads:
    """The heads of one device; ``path`` None keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._heads: dict[str, KnownChain] = {}
        if path is not None and path.exists():
            try:
                doc = json.loads(path.read_text())
                self._heads = {str(k): KnownChain.from_json(v) for k, v in dict(doc).items()}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # Never silently start over: an unreadable file is an alarm of its own.
                log.error("cannot read the record heads in %s: %s", path, exc)
                raise ValueError(f"cannot read the record heads in {path}: {exc}") from None

    def of(self, hotline: str) -> KnownChain:
        return self._heads.setdefault(hotline, KnownChain())

    def save(self) -> None:
        if self.path is None:
            return
        text = json.dumps({k: v.to_json() for k, v in self._heads.items()})
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
