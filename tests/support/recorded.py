"""What the recording tests look at: a member's view of a recorder (its last request, the
indicator it shows), video frames decrypted, and the streams of a recorded file."""

from __future__ import annotations

from pathlib import Path

import av

from hotline.client.call import Call
from hotline.client.consentgate import indicator
from hotline.signaling import messages as m


def last_request(call: Call, recorder: int) -> m.RecordRequested:
    """The last request of ``recorder`` this member saw."""
    reqs = [r for r in call.signaling.recordings.requests if r[0] == recorder]
    assert reqs, "no request seen"
    pid, phase, epoch = reqs[-1]
    return m.RecordRequested(participant_id=pid, phase=phase, phase_epoch=epoch)


def shown(call: Call) -> str:
    """The recording indicator this member shows ("" when nobody records)."""
    return indicator(call.signaling.names, call.signaling.recordings.recording)


def video_frames(call: Call, party: str) -> int:
    """Video frames of ``party`` this member decrypted."""
    remote = call.stats().remote.get(party)
    return 0 if remote is None else int(remote["video_frames_decrypted"])


def streams(path: Path) -> dict[str, tuple[str, int, float]]:
    """title -> (kind, frames decoded, seconds) of each stream of a recording."""
    with av.open(str(path)) as container:
        assert container.duration is not None and container.duration > 0
        titles = {st.index: (st.metadata.get("title", ""), st.type) for st in container.streams}
        frames = dict.fromkeys(titles, 0)
        last = dict.fromkeys(titles, 0.0)
        for packet in container.demux():
            for frame in packet.decode():
                frames[packet.stream.index] += 1
                if frame.time is not None:
                    last[packet.stream.index] = max(last[packet.stream.index], frame.time)
    return {title: (kind, frames[i], last[i]) for i, (title, kind) in titles.items()}
