"""The run file ``hotline serve`` keeps in its data folder while it runs (its pid and
URL), so that ``hotline admin`` can tell whether a server uses the folder it works on."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

RUN_FILE = "serve.run"


@contextlib.contextmanager
def running(data: Path, url: str) -> Iterator[None]:
    """Keep ``data``/serve.run (this process, ``url``) for the duration of the block."""
    path = data / RUN_FILE
    path.write_text(json.dumps({"pid": os.getpid(), "url": url}) + "\n", encoding="utf-8")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def server_note(data: Path) -> str | None:
    """None when a live ``hotline serve`` uses ``data``, else a warning saying so."""
    hint = "(give admin the server's folder: --data or HOTLINE_DATA)"
    try:
        found = json.loads((data / RUN_FILE).read_text(encoding="utf-8"))
        pid, url = int(found["pid"]), str(found["url"])
    except FileNotFoundError:
        return f"warning: no `hotline serve` is using this data folder {hint}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"warning: unreadable {data / RUN_FILE}; is a `hotline serve` using it?"
    if not _alive(pid):
        return (f"warning: the `hotline serve` that used this folder (pid {pid}, {url}) "
                f"is gone {hint}")
    return None
