"""No code path records without consent: the only writer of media files is the recorder
seat (hotline.client.recording), which writes only while its consent rule holds
(tests/integration/test_recording.py). Checked on the source: nothing else makes a file
writer or aiortc's MediaRecorder, a Call takes no recording folder, and ``hotline join``
has no --record."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from typer.testing import CliRunner

from hotline.cli.main import app
from hotline.client.call import Call

SRC = Path(__file__).resolve().parents[3] / "src" / "hotline"


def test_only_the_recorder_makes_a_file_writer() -> None:
    makers = re.compile(r"\b(MkvWriter|MediaRecorder)\(|av\.open\(.*mode=\"w\"")
    found = {str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
             if makers.search(p.read_text(encoding="utf-8"))}
    assert found == {"client/recording.py", "client/mkvwriter.py"}


def test_a_call_takes_no_recording_folder_and_join_has_no_record_option() -> None:
    params = inspect.signature(Call.__init__).parameters
    assert not any("record" in name for name in params)
    result = CliRunner().invoke(app, ["join", "--server", "http://127.0.0.1:9", "--identity",
                                      "x.key", "--room", "r", "--record", "out"])
    assert result.exit_code == 2 and "--record" in result.output
