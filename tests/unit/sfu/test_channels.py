"""Interpretation channels in the SFU (hotline.sfu.channels): an interpreter's audio of
channel C reaches only subscribers listening to C, video and floor audio reach everyone,
and a change is a forwarding change at once whose copies go on without a sequence hole."""

from __future__ import annotations

import struct

from hotline.sfu.channels import ChannelRouting
from hotline.sfu.forwarding import ForwardedCopy, PublishedStream, Router
from tests.unit.sfu.test_rtp import packet

RU, ZH, FLOOR, LISTENER = 1, 2, 3, 4


class Room:
    """Interpreters 1 (audio+video) and 2 (audio), a principal 3 (audio), a listener 4
    subscribed to everything; what reaches the listener is recorded by source SSRC."""

    def __init__(self) -> None:
        self.got: list[tuple[int, int]] = []  # (copy SSRC, sequence)
        self.routers = {pid: Router(pid) for pid in (RU, ZH, FLOOR, LISTENER)}
        self.streams = {
            "ru": PublishedStream(RU, "audio", 0x1A, 111, {}, lambda _: None),
            "ru-video": PublishedStream(RU, "video", 0x1B, 96, {}, lambda _: None),
            "zh": PublishedStream(ZH, "audio", 0x2A, 111, {}, lambda _: None),
            "floor": PublishedStream(FLOOR, "audio", 0x3A, 111, {}, lambda _: None),
        }
        self.seq = {name: 1000 for name in self.streams}
        self.routing = ChannelRouting()
        for i, s in enumerate(self.streams.values()):
            self.routers[s.publisher].publish(s)
            copy = ForwardedCopy(s, LISTENER, 0x4000 + i, s.payload_type, self._record)
            self.routers[LISTENER].subscribe(copy)

    def _record(self, data: bytes) -> None:
        seq, _, ssrc = struct.unpack_from("!HII", data, 2)
        self.got.append((ssrc, seq))

    def copy(self, name: str) -> ForwardedCopy:
        return self.routers[LISTENER].subscriptions[self.streams[name]]

    def start_all(self) -> None:
        for copy in self.routers[LISTENER].subscriptions.values():
            self.routing.start(copy)

    def reroute(self) -> int:
        return self.routing.reroute([self.routers[LISTENER]])

    def send(self, *names: str) -> set[str]:
        """One packet of each named stream; the names the listener got."""
        self.got.clear()
        for name in names:
            s = self.streams[name]
            self.seq[name] += 1
            self.routers[s.publisher].on_rtp(packet(ssrc=s.ssrc, pt=s.payload_type,
                                                    seq=self.seq[name]))
        by_ssrc = {self.copy(n).ssrc: n for n in self.streams}
        return {by_ssrc[ssrc] for ssrc, _ in self.got}


ALL = ("ru", "ru-video", "zh", "floor")


def test_without_channels_everything_is_floor() -> None:
    room = Room()
    room.start_all()
    assert room.send(*ALL) == set(ALL)


def test_a_channel_reaches_only_its_listeners() -> None:
    room = Room()
    room.routing.channel.update({RU: "ru", ZH: "zh"})
    room.start_all()
    assert room.send(*ALL) == {"ru-video", "floor"}  # listens to no channel: floor only
    room.routing.listening[LISTENER] = frozenset({"ru"})
    assert room.reroute() == 1
    assert room.send(*ALL) == {"ru", "ru-video", "floor"}
    room.routing.listening[LISTENER] = frozenset({"zh"})
    assert room.reroute() == 2
    assert room.send(*ALL) == {"zh", "ru-video", "floor"}
    # the SFU's own counters: the ru copy got nothing while the stream kept coming in
    before = room.copy("ru").packets_out
    for _ in range(20):
        room.send(*ALL)
    assert room.copy("ru").packets_out == before
    assert room.streams["ru"].stats.packets_in >= 20


def test_an_interpreter_switching_channel_moves_at_once() -> None:
    room = Room()
    room.routing.listening[LISTENER] = frozenset({"ru"})
    room.routing.channel.update({RU: "ru", ZH: "zh"})
    room.start_all()
    assert room.send("ru", "zh") == {"ru"}
    room.routing.channel[ZH] = "ru"  # relay: both in ru now
    room.routing.channel[RU] = ""  # back to the floor: heard by everyone
    room.reroute()
    assert room.send("ru", "zh") == {"ru", "zh"}
    room.routing.channel[ZH] = "zh"
    room.reroute()
    assert room.send("ru", "zh") == {"ru"}


def test_a_copy_forwarded_again_goes_on_without_a_sequence_hole() -> None:
    room = Room()
    room.routing.channel[ZH] = "zh"
    room.routing.listening[LISTENER] = frozenset({"zh"})
    room.start_all()
    room.send("zh")
    (_, last), = room.got
    room.routing.listening[LISTENER] = frozenset()
    room.reroute()
    for _ in range(500):  # 10 s of audio not forwarded
        assert room.send("zh") == set()
    room.routing.listening[LISTENER] = frozenset({"zh"})
    room.reroute()
    room.send("zh")
    (_, first), = room.got
    assert first == (last + 1) & 0xFFFF


def test_forget_drops_a_participants_state() -> None:
    room = Room()
    room.routing.channel[ZH] = "zh"
    room.routing.listening[LISTENER] = frozenset({"zh"})
    room.start_all()
    room.routing.listening[LISTENER] = frozenset()
    room.reroute()
    room.routing.forget(LISTENER)
    room.routing.forget(ZH)
    assert room.routing.channel == {} and room.routing.listening == {}
    assert not room.routing._paused
