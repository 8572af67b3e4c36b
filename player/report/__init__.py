"""Reporting to the hub: proof of play, status, screenshots, remote commands (see docs/reporting.md).

No Qt in this package (the Qt side is ``player.ui.reporting``). Everything that talks to the hub runs on the one
sender thread of `DeliveryLoop`; the GUI thread only hands over data (never blocks).

`ScreenRef` names this screen: its device ``uuid`` (kept by the hub source) and the objectId of its `SteleScreen`
row, looked up read-only by uuid when first needed (the reporting never writes `SteleScreen`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from player.parse_rest import ParseClient, pointer

if TYPE_CHECKING:
    from player.report.commands import CommandActions, CommandChannel, SystemActions
    from player.report.proof import ProofChannel, ProofRecorder
    from player.report.queue import DeliveryLoop, Outbox
    from player.report.screenshots import ScreenshotChannel
    from player.report.status import ErrorCounter, NowPlaying, StatusChannel

log = logging.getLogger(__name__)

__all__ = ["Reporting", "ScreenRef"]

SCREEN_CLASS = "SteleScreen"
LOOKUP_RETRY_MIN_S = 5.0  # a new screen registers within seconds of the first start: look again soon,
LOOKUP_RETRY_MAX_S = 60.0  # then less often


class ScreenRef:
    """This screen on the hub: ``uuid`` and (resolved lazily, read-only) the `SteleScreen` objectId."""

    def __init__(self, uuid: str, object_id: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.uuid = uuid
        self._object_id = object_id
        self._lock = threading.Lock()
        self._next_lookup = 0.0
        self._monotonic = monotonic
        self._said_missing = False
        self._retry_s = LOOKUP_RETRY_MIN_S

    def set_object_id(self, object_id: str) -> None:
        """The hub source may tell us once it has registered the screen (saves one query)."""
        with self._lock:
            self._object_id = object_id

    def object_id(self, client: ParseClient) -> str | None:
        """The SteleScreen objectId, or None while the screen is not registered (network: worker threads only)."""
        with self._lock:
            if self._object_id is not None:
                return self._object_id
            if self._monotonic() < self._next_lookup:
                return None
        rows = client.query(SCREEN_CLASS, {"uuid": self.uuid}, order="createdAt", limit=1, keys="uuid")
        with self._lock:
            if rows and isinstance(rows[0].get("objectId"), str):
                self._object_id = rows[0]["objectId"]
                return self._object_id
            self._next_lookup = self._monotonic() + self._retry_s
            self._retry_s = min(self._retry_s * 2, LOOKUP_RETRY_MAX_S)
            if not self._said_missing:
                log.info("screen %s is not registered on the hub yet; reports wait for it", self.uuid)
                self._said_missing = True
            return None

    def pointer(self, client: ParseClient) -> dict[str, str] | None:
        oid = self.object_id(client)
        return pointer(SCREEN_CLASS, oid) if oid else None


class Reporting:
    """Everything reporting needs, wired together: one outbox, one sender thread, four channels.

    ``actions`` are the app's callbacks for remote commands (thread-safe: they are called from the sender thread).
    """

    def __init__(self, client: ParseClient, screen: ScreenRef, state_dir: str | Path, *,
                 actions: CommandActions, system: SystemActions | None = None,
                 status_interval_s: float = 60.0, proof_of_play: bool = True,
                 outbox_max_bytes: int | None = None, command_poll_s: float = 60.0,
                 proof_flush_s: float = 300.0,
                 status_extra: Callable[[], dict[str, Any]] | None = None,
                 hash_of: Callable[[str], str | None] | None = None,
                 disk_path: str | Path = "/var/cache/osc-player") -> None:
        from player.report.commands import CommandChannel, CommandLedger, SubprocessSystemActions
        from player.report.proof import ProofChannel, ProofRecorder
        from player.report.queue import DEFAULT_MAX_BYTES, DeliveryLoop, Outbox
        from player.report.screenshots import ScreenshotChannel
        from player.report.status import ErrorCounter, NowPlaying, StatusChannel

        state = Path(state_dir)
        self.client = client
        self.screen = screen
        self.outbox: Outbox = Outbox(state / "report-outbox.sqlite",
                                     max_bytes=outbox_max_bytes or DEFAULT_MAX_BYTES)
        self.now_playing: NowPlaying = NowPlaying()
        self.errors: ErrorCounter = ErrorCounter()
        self.proof: ProofRecorder | None = (ProofRecorder(self.outbox, screen.uuid, hash_of=hash_of)
                                            if proof_of_play else None)
        self.proof_channel: ProofChannel = ProofChannel(self.outbox, client, screen, flush_s=proof_flush_s)
        self.status_channel: StatusChannel = StatusChannel(
            client, screen, self.now_playing, interval_s=status_interval_s, errors=self.errors,
            extra=status_extra, queued=lambda: self.outbox.count(), disk_path=disk_path)
        self.screenshots: ScreenshotChannel = ScreenshotChannel(client, screen)
        self.commands: CommandChannel = CommandChannel(
            client, screen, CommandLedger(state / "commands.sqlite"), actions,
            system or SubprocessSystemActions(), poll_s=command_poll_s)
        self.loop: DeliveryLoop = DeliveryLoop(
            [self.commands, self.status_channel, self.screenshots, self.proof_channel])
        for channel in (self.proof_channel, self.screenshots, self.commands):
            channel.on_ready = self.loop.wake

    def start(self) -> None:
        logging.getLogger().addHandler(self.errors)
        self.loop.start()

    def on_live_event(self) -> None:
        """For the LiveQuery client: a command pushed for this screen, or a reconnect (events may have been missed)."""
        self.commands.on_live_event()
        self.loop.retry_now()

    def stop(self) -> None:
        """Close open plays (recorded with end = now), stop the sender, close the databases."""
        if self.proof is not None:
            self.proof.close_all()
        self.outbox.flush()
        self.loop.stop()
        self.outbox.close()
        self.commands.ledger.close()
        logging.getLogger().removeHandler(self.errors)
