"""Where and how the vector generators write their files: JSON next to the generator,
indented, one trailing newline, and a line saying what was written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def write_vectors(name: str, data: dict[str, Any], summary: str = "", *,
                  indent: int = 2) -> Path:
    path = HERE / name
    path.write_text(json.dumps(data, indent=indent) + "\n")
    print(f"wrote {path}" + (f": {summary}" if summary else ""))
    return path
