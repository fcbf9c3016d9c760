"""The forwarding graph's operations: publish, subscribe, start forwarding, unsubscribe,
remove a publisher, unsubscribe from everything; the graph read only through views."""

from __future__ import annotations

import pytest

from hotline.sfu import rtp
from hotline.sfu.forwarding import ForwardedCopy, PublishedStream, Router
from tests.unit.sfu.test_rtp import packet


class Room:
    """Two publishers (1: audio and video, 3: video) and a subscriber (2), every packet
    sent recorded by who it is for."""

    def __init__(self) -> None:
        self.to_publisher: list[bytes] = []
        self.to_subscriber: list[bytes] = []
        self.routers = {pid: Router(pid) for pid in (1, 2, 3)}
        self.streams = [
            PublishedStream(1, "audio", 0x1A, 111, {}, self.to_publisher.append),
            PublishedStream(1, "video", 0x1B, 96, {}, self.to_publisher.append),
            PublishedStream(3, "video", 0x3B, 96, {}, self.to_publisher.append),
        ]
        for s in self.streams:
            self.routers[s.publisher].publish(s)
        self.copies = [ForwardedCopy(s, 2, 0x2000 + i, 100 + i, self.to_subscriber.append)
                       for i, s in enumerate(self.streams)]

    @property
    def subscriber(self) -> Router:
        return self.routers[2]

    def subscribe_all(self, *, start: bool = True) -> None:
        for c in self.copies:
            self.subscriber.subscribe(c)
            if start:
                c.stream.add_copy(c)

    def send_one_of_each(self) -> list[int]:
        """One packet of every stream; the SSRCs the subscriber got them on."""
        self.to_subscriber.clear()
        for s in self.streams:
            self.routers[s.publisher].on_rtp(packet(ssrc=s.ssrc, pt=s.payload_type))
        return [int.from_bytes(p[8:12], "big") for p in self.to_subscriber]


def test_publish_makes_a_stream_known_by_its_ssrc() -> None:
    room = Room()
    pub = room.routers[1]
    assert dict(pub.published) == {0x1A: room.streams[0], 0x1B: room.streams[1]}
    assert pub.publishes(room.streams[1]) and not pub.publishes(room.streams[2])
    other = PublishedStream(1, "video", 0x1B, 96, {}, room.to_publisher.append)
    assert not pub.publishes(other)  # same SSRC, another stream


def test_a_subscribed_copy_is_forwarded_to_once_added() -> None:
    room = Room()
    room.subscribe_all(start=False)
    assert room.send_one_of_each() == []  # known to the subscriber, not forwarded to yet
    assert dict(room.subscriber.copies) == {c.ssrc: c for c in room.copies}
    assert dict(room.subscriber.subscriptions) == {c.stream: c for c in room.copies}
    # Feedback about a subscribed copy reaches its stream even before forwarding starts.
    room.subscriber.on_rtcp(rtp.pli(2, 0x2001), now=1.0)
    assert room.streams[1].stats.keyframe_requests == 1
    for c in room.copies:
        assert c.stream.add_copy(c)
        assert not c.stream.add_copy(c)  # once only
    assert room.send_one_of_each() == [0x2000, 0x2001, 0x2002]
    assert all(c.stream.copies == (c,) for c in room.copies)


def test_unsubscribe_stops_one_stream_and_its_feedback() -> None:
    room = Room()
    room.subscribe_all()
    room.subscriber.unsubscribe(room.streams[1])
    assert room.send_one_of_each() == [0x2000, 0x2002]
    assert room.streams[1].copies == ()
    assert 0x2001 not in room.subscriber.copies
    assert room.streams[1] not in room.subscriber.subscriptions
    room.subscriber.on_rtcp(rtp.pli(2, 0x2001), now=1.0)
    assert room.subscriber.dropped == 1 and room.to_publisher == []
    room.subscriber.unsubscribe(room.streams[1])  # again: nothing happens


def test_remove_publisher_drops_its_streams_only() -> None:
    room = Room()
    room.subscribe_all()
    room.subscriber.remove_publisher(1)
    assert room.send_one_of_each() == [0x2002]
    assert list(room.subscriber.subscriptions) == [room.streams[2]]
    assert list(room.subscriber.copies) == [0x2002]
    assert room.streams[0].copies == () and room.streams[1].copies == ()


def test_unsubscribe_all_forwards_nothing_more() -> None:
    room = Room()
    room.subscribe_all()
    room.copies[0].stream.remove_copy(room.copies[0])  # already stopped: no matter
    room.subscriber.unsubscribe_all()
    assert room.send_one_of_each() == []
    assert not room.subscriber.copies and not room.subscriber.subscriptions
    assert all(s.copies == () for s in room.streams)


def test_a_second_copy_of_a_stream_replaces_the_first() -> None:
    room = Room()
    room.subscribe_all()
    stream = room.streams[2]
    again = ForwardedCopy(stream, 2, 0x2F00, 100, room.to_subscriber.append)
    room.subscriber.subscribe(again)
    stream.add_copy(again)
    assert room.subscriber.subscriptions[stream] is again
    assert 0x2002 not in room.subscriber.copies and stream.copies == (again,)
    assert room.send_one_of_each() == [0x2000, 0x2001, 0x2F00]


def test_the_graph_is_read_through_views_only() -> None:
    room = Room()
    room.subscribe_all()
    with pytest.raises(TypeError):
        room.subscriber.copies[1] = room.copies[0]  # type: ignore[index]
    with pytest.raises(TypeError):
        room.routers[1].published[1] = room.streams[0]  # type: ignore[index]
    with pytest.raises(TypeError):
        room.subscriber.subscriptions[room.streams[0]] = room.copies[0]  # type: ignore[index]
    assert isinstance(room.streams[0].copies, tuple)


def test_rtp_where_none_may_come_is_dropped_and_counted() -> None:
    room = Room()
    room.subscriber.drop_rtp(packet())
    assert room.subscriber.dropped == 1


def test_receiver_reports_go_to_the_publisher_for_each_of_its_streams() -> None:
    room = Room()
    room.send_one_of_each()
    room.routers[1].send_receiver_reports(now=1.0)
    reports = [next(rtp.iter_rtcp(r)) for r in room.to_publisher]
    assert [r.packet_type for r in reports] == [rtp.RR, rtp.RR]
    assert [int.from_bytes(r.data[8:12], "big") for r in reports] == [0x1A, 0x1B]


def test_the_uplink_remb_names_the_video_streams_once_there_is_a_limit() -> None:
    room = Room()
    pub = room.routers[1]
    audio, video = room.streams[0], room.streams[1]
    assert pub.uplink_remb(0.0) is None  # no estimate yet: no REMB
    for seq in range(0, 100):
        if seq % 2:  # half of the packets lost: congestion
            pub.on_rtp(packet(ssrc=video.ssrc, pt=96, seq=seq, payload=bytes(1000)))
            pub.on_rtp(packet(ssrc=audio.ssrc, pt=111, seq=seq))
    data = pub.uplink_remb(1.0)
    assert data is not None and audio.uplink_congested and video.uplink_congested
    parsed = rtp.remb_bitrate(next(rtp.iter_rtcp(data)))
    assert parsed is not None and parsed[1] == [video.ssrc]
    assert pub.uplink.bitrate is not None and abs(parsed[0] - pub.uplink.bitrate) < 1000
    assert room.routers[2].uplink_remb(1.0) is None  # publishes nothing
