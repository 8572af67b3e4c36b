"""Digital-twin messages without a broker: the STOMP frame codec, checking and sanitising messages, the inbox
(district filter, dedupe, the N newest, one log line per kind of bad input), the factory, and the widget at several
zone sizes in both orientations (text stays in its box, high severity marked, umlauts, empty and stale states).
The same feed against a real RabbitMQ: tests/test_twin_broker.py."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from player.clock import FakeClock
from player.feeds.base import FeedState
from player.feeds.factory import build_feeds
from player.feeds.twin import (
    MAX_BODY_BYTES,
    Rejected,
    StompError,
    StompFrame,
    TwinFeed,
    TwinInbox,
    TwinMessage,
    TwinMessages,
    decode_frames,
    encode_frame,
    negotiate_heartbeats,
    twin_message_from_json,
)
from player.ui.widgets import WIDGET_VIEWS
from player.ui.widgets.twin import TwinMessageList
from test_widgets import NOW, assert_fits, make, paint

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Berlin


def doc(uid: str = "u1", kind: str = "press_release", severity: str = "normal", districts: Any = None,
        title: Any = "Straßensperrung in der Rheinstraße", message: Any = "Ab Montag gesperrt.", **extra: Any) -> dict:
    out: dict[str, Any] = {"uuid": uid, "eventType": kind, "severity": severity,
                           "payload": {"title": title, "message": message}}
    if districts is not None:
        out["districtIds"] = districts
    out.update(extra)
    return out


def body(d: Any) -> bytes:
    return json.dumps(d).encode("utf-8")


# ------------------------------------------------------------------------------------------------ codec
def test_frames_round_trip_with_escaped_headers_and_binary_body() -> None:
    raw = encode_frame("MESSAGE", {"destination": "/exchange/x/a:b", "weird\nkey": "back\\slash\r"},
                       b"{\"a\": 1}\x00tail")
    frames = decode_frames(raw + b"\n\n" + encode_frame("RECEIPT", {"receipt-id": "7"}) + b"\r\n")
    assert [f.command for f in frames] == ["MESSAGE", "RECEIPT"]
    assert frames[0].headers["destination"] == "/exchange/x/a:b"
    assert frames[0].headers["weird\nkey"] == "back\\slash\r"
    assert frames[0].body == b"{\"a\": 1}\x00tail"  # content-length, so a NUL inside the body is kept
    assert frames[1].headers == {"receipt-id": "7"}


def test_heartbeats_alone_give_no_frame_and_the_first_repeated_header_counts() -> None:
    assert decode_frames(b"\n") == [] and decode_frames(b"\r\n\n") == []
    frame = decode_frames(b"MESSAGE\nfoo:1\nfoo:2\n\nhello\x00")[0]
    assert frame == StompFrame("MESSAGE", {"foo": "1"}, b"hello")


@pytest.mark.parametrize("raw", [b"MESSAGE\nfoo:1\nno blank line\x00", b"message\n\n\x00", b"MESSAGE\nbad\n\n\x00",
                                 b"MESSAGE\ncontent-length:99\n\nshort\x00", b"MESSAGE\ncontent-length:x\n\n\x00",
                                 b"MESSAGE\nk:\\t\n\n\x00", b"MESSAGE\n\nno nul", b"\xff\xfe\n\n\x00"])
def test_malformed_frames_raise_stomp_error(raw: bytes) -> None:
    with pytest.raises(StompError):
        decode_frames(raw)


def test_connect_headers_are_not_escaped_and_line_breaks_are_refused() -> None:
    raw = encode_frame("CONNECT", {"accept-version": "1.2", "host": "/", "login": "a:b"})
    assert raw == b"CONNECT\naccept-version:1.2\nhost:/\nlogin:a:b\n\n\x00"
    with pytest.raises(ValueError, match="line breaks"):
        encode_frame("CONNECT", {"passcode": "x\nSEND"})


def test_heartbeat_negotiation_follows_stomp_1_2() -> None:
    assert negotiate_heartbeats(10000, 10000, "5000,20000") == (20000, 10000)
    assert negotiate_heartbeats(10000, 10000, "0,0") == (0, 0)
    assert negotiate_heartbeats(0, 10000, "5000,5000") == (0, 10000)
    assert negotiate_heartbeats(10000, 10000, "nonsense") == (0, 0)


# ------------------------------------------------------------------------------------------------ messages
def test_a_message_becomes_plain_capped_text() -> None:
    m = twin_message_from_json(doc(title="<b>Bürgerbüro</b> <script>alert(1)</script>geschlossen",
                                   message="<p>Heute &amp; morgen</p><p>Zweiter Absatz</p>" + "x" * 5000,
                                   severity="HIGH", districts=[3, "7", True, None]), T0)
    assert m.title == "Bürgerbüro geschlossen"
    assert m.text.startswith("Heute & morgen\nZweiter Absatz") and len(m.text) <= 600 and m.text.endswith("…")
    assert m.severity == "high" and m.high
    assert m.districts == ("3", "7")
    assert m.received_at == T0 and m.time is None


@pytest.mark.parametrize(("d", "reason"), [
    ([1, 2], "not a JSON object"),
    ({"eventType": "event", "payload": {"title": "x"}}, "no uuid"),
    (doc(uid=""), "no uuid"),
    (doc(uid=True), "no uuid"),
    (doc(kind="rocket_launch"), "unknown eventType"),
    ({"uuid": "a", "payload": {"title": "x"}}, "no eventType"),
    ({"uuid": "a", "eventType": "event", "payload": "title"}, "no payload"),
    (doc(title=None, message=["not", "text"]), "neither title nor message"),
    (doc(title="<script>only script</script>", message=""), "neither title nor message"),
])
def test_messages_that_cannot_be_shown_are_rejected_with_a_reason(d: Any, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        twin_message_from_json(d, T0)


def test_odd_but_usable_fields_are_read_sensibly() -> None:
    m = twin_message_from_json(doc(uid=12345, severity=["high"], districts="5", title=42, message="Text",
                                   timestamp="2026-12-01T08:30:00Z"), T0)
    assert (m.id, m.severity, m.districts, m.title) == ("12345", "normal", ("5",), "")
    assert m.time == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    future = twin_message_from_json(doc(timestamp="2099-01-01T00:00:00Z"), T0)
    assert future.time is None and future.shown_at == T0  # a time far ahead is not believed


# ------------------------------------------------------------------------------------------------ inbox
def test_inbox_keeps_the_newest_dedupes_and_filters_by_district() -> None:
    inbox = TwinInbox(max_items=3, districts=["3"])
    assert inbox.offer(body(doc("a", districts=["3"])), T0)
    assert not inbox.offer(body(doc("b", districts=["5", "6"])), T0)  # another district
    assert inbox.offer(body(doc("c")), T0)  # no districts: the whole city
    assert inbox.offer(body(doc("d", districts=["9", "3"])), T0)
    assert not inbox.offer(body(doc("a", districts=["3"])), T0 + timedelta(seconds=5))  # the same again
    assert inbox.offer(body(doc("a", districts=["3"], title="Neu")), T0 + timedelta(seconds=9))  # an update
    snap = inbox.snapshot().items
    assert [m.id for m in snap] == ["d", "c", "a"] and snap[2].title == "Neu" and snap[2].received_at == T0
    assert inbox.offer(body(doc("e")), T0)
    assert [m.id for m in inbox.snapshot().items] == ["e", "d", "c"]
    assert inbox.filtered == 1


def test_inbox_seed_keeps_saved_messages_below_new_ones() -> None:
    saved = TwinMessages(tuple(twin_message_from_json(doc(i), T0) for i in ("s1", "s2", "s3")))
    inbox = TwinInbox(max_items=3)
    inbox.offer(body(doc("new")), T0 + timedelta(hours=1))
    inbox.seed(saved)
    inbox.seed("not a value")
    assert [m.id for m in inbox.snapshot().items] == ["new", "s1", "s2"]


def test_bad_input_is_dropped_with_one_log_line_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    inbox = TwinInbox(max_items=3, name="twin-test")
    bad = [b"not json", b"\xff\xfe", b"[1, 2]", body(doc(kind="x1")), body(doc(kind="x2")), b"[" * 60_000,
           body({"uuid": "a"}), b"x" * (MAX_BODY_BYTES + 1)]
    with caplog.at_level(logging.WARNING, logger="player.feeds.twin"):
        for _ in range(50):  # a flood of the same bad messages
            for raw in bad:
                assert inbox.offer(raw, T0) is False
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5, lines  # not JSON (incl. nested 60,000 deep), not an object, unknown eventType,
    # no eventType, too large
    assert all("twin-test" in line and "dropped" in line for line in lines)
    assert sum(inbox.dropped.values()) == 50 * len(bad)
    assert inbox.offer(body(doc("ok")), T0)  # and it still takes good messages


def test_a_flood_of_good_messages_keeps_only_the_newest() -> None:
    inbox = TwinInbox(max_items=3)
    for i in range(5000):
        inbox.offer(body(doc(f"m{i}", title="T" * 30_000 if i % 2 else f"Meldung {i}")), T0)
    items = inbox.snapshot().items
    assert [m.id for m in items] == ["m4999", "m4998", "m4997"]
    assert all(len(m.title) <= 200 for m in items)


# ------------------------------------------------------------------------------------------------ factory
def test_a_twin_feed_needs_a_broker_url_and_takes_options() -> None:
    built = build_feeds({"twin": {"type": "twin"}})
    assert not built.feeds and "no broker URL" in built.problems[0] and "[twin] url" in built.problems[0]
    settings_ = {"url": "ws://127.0.0.1:1/ws", "vhost": "city", "login": "screen", "passcode": "pw",
                 "destination": "/exchange/digital_twin_raw/*", "districts": [3], "heartbeat_s": 5}
    built = build_feeds({"twin": {"type": "twin", "max_items": 5, "stale_after_s": 60},
                         "nah": {"type": "digital_twin", "districts": ["9"], "vhost": "other",
                                 "url": "wss://twin.example.org/ws"}}, twin=settings_)
    assert not built.problems
    feed, other = built.feeds
    assert isinstance(feed, TwinFeed) and feed.inbox.max_items == 5 and feed.stale_after_s == 60
    assert feed.inbox.districts == {"3"} and feed.conn.vhost == "city" and feed.conn.passcode == "pw"
    assert other.inbox.districts == {"9"} and other.conn.vhost == "other" and other.conn.login == "screen"
    assert other.conn.url == "wss://twin.example.org/ws"
    assert "pw" not in repr(feed.conn)
    bad = build_feeds({"a": {"type": "twin", "passcode": "x"}, "b": {"type": "twin", "url": "http://x"},
                       "c": {"type": "twin", "min_severity": "urgent"}, "d": {"type": "twin", "event_types": ["x"]}},
                      twin=settings_)
    assert not bad.feeds and len(bad.problems) == 4


def test_fetch_without_a_broker_raises_and_never_blocks_twice(tmp_path: Any) -> None:
    built = build_feeds({"twin": {"type": "twin", "timeout_s": 0.5}}, twin={"url": "ws://127.0.0.1:9/ws"})
    feed = built.feeds[0]
    try:
        with pytest.raises(Exception, match="127.0.0.1:9"):
            feed.fetch()
        with pytest.raises(Exception, match="127.0.0.1:9"):
            feed.fetch()
    finally:
        feed.close()
    assert not feed.subscriber.subscribed.is_set()


# ------------------------------------------------------------------------------------------------ widget
def msg(uid: str, title: str, text: str = "", severity: str = "normal", kind: str = "plain_message",
        minutes: int = 0) -> TwinMessage:
    return TwinMessage(uid, kind, severity, title, text, (), NOW - timedelta(minutes=minutes))


MESSAGES = TwinMessages((
    msg("1", "Hochwasserwarnung für die Uferstraße – Anwohner bitte Keller räumen", "Der Pegel der Mümling steigt. "
        "Bitte meiden Sie die Uferwege und folgen Sie den Hinweisen der Feuerwehr.", "high", "event"),
    msg("2", "Neue Öffnungszeiten im Bürgerbüro", "Ab 1. Januar montags bis freitags von 8 bis 18 Uhr.",
        kind="press_release", minutes=40),
    msg("3", "Feinstaub: Messwert über dem Grenzwert am Rathausplatz", "", "low", "sensor", minutes=600),
))
SIZES = [(480, 880), (1920, 1080), (1080, 1920), (960, 540), (300, 200), (1920, 120), (1080, 160), (160, 90),
         (640, 1136)]


@pytest.mark.parametrize("size", SIZES)
def test_twin_widget_text_stays_in_its_box_at_every_size(qapp: Any, size: tuple[int, int]) -> None:
    view = make("twin_messages", MESSAGES, size)
    paint(view)
    runs = assert_fits(view)
    if size[0] >= 300 and size[1] >= 120:
        assert any("Hochwasser" in r.text for r in runs), [r.text for r in runs]


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (1920, 120)])
def test_high_severity_is_marked_and_umlauts_survive(qapp: Any, size: tuple[int, int]) -> None:
    view = make("twin_messages", MESSAGES, size)
    image = paint(view)
    texts = [r.text for r in view.runs]
    assert "WICHTIG" in texts  # a word, not only a colour
    badge = next(r for r in view.runs if r.text == "WICHTIG")
    # the badge is filled with the alert colour behind its text
    px = image.pixelColor(badge.rect.left() - 2, badge.rect.center().y())
    assert (px.red(), px.green(), px.blue()) == (0xFF, 0x6B, 0x5A)
    assert any(t.startswith("Hochwasserwarnung für") for t in texts)
    assert any(t.startswith("Neue Öffnungszeiten") for t in texts)
    assert any("Veranstaltung · Heute, 10:00 Uhr" == t for t in texts)
    assert sum(t == "WICHTIG" for t in texts) == 1  # only the high one


def test_twin_widget_forms_by_shape_and_option(qapp: Any) -> None:
    assert make("twin_messages", MESSAGES, (1920, 120)).is_strip()
    assert not make("twin_messages", MESSAGES, (480, 880)).is_strip()
    assert make("twin_messages", MESSAGES, (480, 880), options={"style": "strip"}).is_strip()
    strip = make("twin_messages", MESSAGES, (1920, 120))
    paint(strip)
    titles = [r.text for r in strip.runs if r.font.bold() and r.text != "WICHTIG"]
    assert len(titles) == 3  # the 3 newest side by side, as in the old client's header
    one = make("twin_messages", MESSAGES, (1920, 1080), options={"max_items": 1})
    paint(one)
    assert not any("Bürgerbüro" in r.text for r in one.runs)


def test_twin_widget_empty_stale_and_missing_states(qapp: Any) -> None:
    empty = make("twin_messages", TwinMessages(()), (960, 540))
    paint(empty)
    assert "Zurzeit keine Meldungen" in [r.text for r in empty.runs]
    nothing = make("twin_messages", None, (960, 540), fetched_at=None)
    paint(nothing)
    assert "Zurzeit keine Meldungen" in [r.text for r in nothing.runs]
    clock = FakeClock(NOW + timedelta(hours=2))
    stale = make("twin_messages", MESSAGES, (960, 540), clock=clock, fetched_at=NOW - timedelta(minutes=18))
    paint(stale)
    texts = [r.text for r in stale.runs]
    assert "Stand: 09:42" in texts and any("Hochwasser" in t for t in texts)  # old messages kept, marked
    strip = make("twin_messages", MESSAGES, (1920, 120), clock=clock, fetched_at=NOW - timedelta(minutes=18))
    paint(strip)
    assert "Stand: 09:42" in [r.text for r in strip.runs]
    assert_fits(strip)
    english = make("twin_messages", TwinMessages(()), (960, 540))
    english.ctx.locale = "en-GB"
    paint(english)
    assert "No notices at the moment" in [r.text for r in english.runs]


def test_html_and_megabyte_strings_are_drawn_as_text(qapp: Any) -> None:
    long = "Überlänge " * 100_000
    value = TwinMessages((msg("1", "<b>fett</b> <script>alert(1)</script>", long, "high"), msg("2", long, long)))
    for size in ((1920, 1080), (1080, 1920), (1920, 120)):
        view = make("twin_messages", value, size)
        paint(view)
        assert_fits(view)
        assert any(r.text.startswith("<b>fett</b>") for r in view.runs)  # literally, never as rich text


def test_twin_widget_is_registered_and_rejects_other_values(qapp: Any) -> None:
    assert WIDGET_VIEWS["twin_messages"] is TwinMessageList
    view = make("twin_messages", object(), (960, 540))
    paint(view)
    assert "Zurzeit keine Meldungen" in [r.text for r in view.runs]


text_st = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
messages_st = st.builds(TwinMessages, st.lists(st.builds(
    TwinMessage, text_st, st.sampled_from(["press_release", "sensor", "event", "project", "job_posting",
                                           "plain_message"]),
    st.sampled_from(["low", "normal", "high"]), text_st, text_st, st.just(()),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))),
    max_size=15).map(tuple))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(value=messages_st, size=st.sampled_from([(480, 880), (1080, 1920), (1920, 120), (200, 150), (1920, 1080)]))
def test_odd_messages_never_break_the_widget(qapp: Any, value: TwinMessages, size: tuple[int, int]) -> None:
    view = make("twin_messages", value, size)
    paint(view)
    assert_fits(view)
    assert view.next_change(NOW) is None or view.next_change(NOW) > NOW


def test_persisted_value_round_trips(tmp_path: Any) -> None:
    from player.feeds.base import FeedStore

    feed = build_feeds({"twin": {"type": "twin"}}, twin={"url": "ws://127.0.0.1:9/ws"}).feeds[0]
    store = FeedStore(tmp_path)
    store.save(feed, FeedState(MESSAGES, NOW))
    loaded = store.load(feed)
    assert loaded is not None and loaded.value == MESSAGES and loaded.fetched_at == NOW
