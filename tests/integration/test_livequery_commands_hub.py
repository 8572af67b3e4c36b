"""LiveQuery and remote commands against the real Parse Server: a screen hears only the commands addressed to it, a
command starts only the command check (no content sync), and the screen's own result write (`doneAt`) starts
nothing. Two players (ContentController with their SyncService, as the app wires them) share one hub.

Before: every screen subscribed to all of `SteleScreenCommand`, and each event woke its sync and its command poll,
so one command to one screen of a fleet of 200 cost 200 syncs, and its `doneAt` write 200 more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pytestqt.qtbot import QtBot

from faultkit import wait_for
from hubserver import TestHub
from integration.test_hub_source import make
from integration.test_player_hub import player_config
from player.parse_rest import parse_date, pointer
from player.sources.livequery import LiveQueryClient
from player.sync import SyncService
from player.ui.runtime import ContentController

COMMANDS = "SteleScreenCommand"


@dataclass
class Screen:
    """One player: its controller, and what the hub's pushes made it do."""

    controller: ContentController
    service: SyncService
    state_dir: Path
    wakes: list[int] = field(default_factory=list)  # content syncs started by a push
    polls: list[int] = field(default_factory=list)  # command checks started by a push (Reporting.on_live_event)

    @property
    def uuid(self) -> str:
        return (self.state_dir / "device-id").read_text().strip()

    def live(self) -> LiveQueryClient | None:
        return getattr(self.service.source, "live", None)

    def counts(self) -> tuple[int, int]:
        return len(self.wakes), len(self.polls)


def start_screen(hub: TestHub, tmp_path: Path) -> Screen:
    tmp_path.mkdir()
    config = player_config(hub, tmp_path, live_query=True, poll_s=3600)  # polling cannot explain anything here
    service = SyncService.from_config(config)
    controller = ContentController(config, service=service)
    screen = Screen(controller, service, tmp_path / "state")
    wake: Callable[[], None] = service.wake

    def counted_wake() -> None:  # the real wake, counted
        screen.wakes.append(1)
        wake()

    service.wake = counted_wake  # type: ignore[method-assign]
    controller.change_listeners.append(lambda: screen.polls.append(1))
    controller.start()
    return screen


def commands_watched(screen: Screen) -> bool:
    live = screen.live()
    return (live is not None and live.wait_subscribed(0)
            and any(cls == COMMANDS for cls, _ in live.subscriptions))


def screen_id(hub: TestHub, uuid: str) -> str:
    (row,) = hub.query("SteleScreen", {"uuid": uuid})
    return str(row["objectId"])


def test_a_command_wakes_only_its_screens_command_check(qtbot: QtBot, clean_hub: TestHub, tmp_path: Path) -> None:
    a = start_screen(clean_hub, tmp_path / "a")
    b = start_screen(clean_hub, tmp_path / "b")
    try:
        for s in (a, b):
            wait_for(lambda s=s: (s.state_dir / "device-id").exists() and bool(clean_hub.query(
                "SteleScreen", {"uuid": s.uuid})), 30, "the screen registering")
            wait_for(lambda s=s: commands_watched(s), 20, "the command subscription confirmed")
        ids = {s.uuid: screen_id(clean_hub, s.uuid) for s in (a, b)}
        marks = iter(range(1, 100))

        def touch_own_rows() -> None:
            """A content change of each screen's own row: each wakes its own sync once, and (pushes come in order)
            every event sent before it has arrived by then."""
            before = {id(s): len(s.wakes) for s in (a, b)}
            mark = next(marks)
            for s in (a, b):
                clean_hub.rest("PUT", f"/classes/SteleScreen/{ids[s.uuid]}", {"name": f"Bildschirm {mark}"})
            for s in (a, b):
                wait_for(lambda s=s: len(s.wakes) > before[id(s)], 10, "the push of the screen's own row")

        touch_own_rows()  # settles the registration's own pushes
        a0, b0 = a.counts(), b.counts()

        # the administrator sends screen A a command
        command = make(clean_hub, COMMANDS, {"screen": pointer("SteleScreen", ids[a.uuid]), "command": "screenshot",
                                             "args": {}})
        wait_for(lambda: len(a.polls) > a0[1], 10, "screen A's command check")
        # screen A completes it (as player/report/commands.py writes its result)
        clean_hub.rest("PUT", f"/classes/{COMMANDS}/{command}", {"doneAt": parse_date(datetime.now(UTC)),
                                                                 "result": "ok"})
        touch_own_rows()

        # (wakes, command checks). B: nothing for A's command (the +1: its own row, a content change)
        assert b.counts() == (b0[0] + 1, b0[1]), f"screen B, before: {b0}"
        # A: one command check, no sync for the command nor for its own result write (the +1: its own row)
        assert a.counts() == (a0[0] + 1, a0[1] + 1), f"screen A, before: {a0}"
    finally:
        for s in (a, b):
            s.controller.stop()
        for s in (a, b):
            s.service.close()


def test_a_reopened_command_is_checked_again(clean_hub: TestHub, tmp_path: Path) -> None:
    """The hub source's own contract, without the player around it: a pending command -> on_command only; the
    result write -> nothing; an administrator removing doneAt (the command is pending again) -> on_command."""
    from integration.test_hub_source import source_for

    source = source_for(clean_hub, tmp_path)
    source.fetch(None)  # registers; the command subscription needs the screen's objectId
    changes: list[int] = []
    commands: list[int] = []
    changed = threading.Event()

    def on_change() -> None:
        changes.append(1)
        changed.set()

    live = source.watch(on_change, lambda: commands.append(1))
    assert live is not None
    try:
        assert live.wait_subscribed(10)
        assert any(cls == COMMANDS for cls, _ in live.subscriptions)  # known from the fetch before watch()
        me = pointer("SteleScreen", screen_id(clean_hub, source.device_id))
        command = make(clean_hub, COMMANDS, {"screen": me, "command": "reload", "args": {}})
        wait_for(lambda: commands == [1], 10, "the push of the new command")
        clean_hub.rest("PUT", f"/classes/{COMMANDS}/{command}", {"doneAt": parse_date(datetime.now(UTC)),
                                                                 "result": "ok"})
        clean_hub.rest("PUT", f"/classes/{COMMANDS}/{command}", {"doneAt": {"__op": "Delete"}})  # reopened
        make(clean_hub, "SteleLayoutConfig", {"name": "danach"})  # a content change after both
        assert changed.wait(10)
        wait_for(lambda: len(commands) >= 2, 10, "the push of the reopened command")
        assert commands == [1, 1]  # the doneAt write in between called nothing
        assert changes == [1]  # only the content change; no command counted as one
    finally:
        live.stop()
