"""Screenshots to the hub class `SteleScreenshot` {screenshot (File), screen (Pointer SteleScreen), date (Date)}.

The Qt side (``player.ui.reporting``) grabs the window and encodes the image off the GUI thread, then calls
`ScreenshotChannel.submit`. Only the newest screenshot is kept (in memory) until it is delivered:

1. upload the image as a Parse file (``POST /files/screen-<uuid>.jpg``; needs a logged-in hub user),
2. create the new `SteleScreenshot` row,
3. delete this screen's older rows (one ``/batch``).

Order: the old stele client deleted first and uploaded afterwards, so the hub showed no screenshot of the screen
in between, and none at all when the upload failed. Here the new row exists before the old ones go: an admin always
sees at least one screenshot, and a crash between 2 and 3 only leaves an extra old row that the next upload removes
(step 3 removes every row of this screen except the new one). Parse Server keeps the files of deleted rows (deleting
a file needs the master key); that is the same as with the old client.

A file is uploaded once per screenshot: when step 2 fails (the hub refuses the row, or cannot be reached), the waiting
screenshot keeps the reference of its uploaded file and the next attempt only creates the row. A screenshot the hub
refuses (a Parse error, not an outage) is tried again after 60 s, doubling up to 30 min, with one log line per
distinct error; a newer screenshot waits for that too.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from player.parse_rest import HubError, HubUnavailable, ParseClient, parse_date
from player.report import ScreenRef

log = logging.getLogger(__name__)

__all__ = ["SCREENSHOT_CLASS", "Screenshot", "ScreenshotChannel"]

SCREENSHOT_CLASS = "SteleScreenshot"
RETRY_FIRST_S = 60.0  # after the hub refused a screenshot (upload or row); doubles per refusal
RETRY_MAX_S = 1800.0


@dataclass(frozen=True)
class Screenshot:
    data: bytes
    content_type: str  # image/jpeg or image/png
    taken_at: datetime  # aware
    width: int
    height: int

    @property
    def extension(self) -> str:
        return "png" if self.content_type == "image/png" else "jpg"


class ScreenshotChannel:
    """Newest screenshot waiting for delivery -> file upload + new row + older rows of this screen deleted."""

    name = "screenshot"

    def __init__(self, client: ParseClient, screen: ScreenRef, *, class_name: str = SCREENSHOT_CLASS) -> None:
        self.client = client
        self.screen = screen
        self.class_name = class_name
        self.on_ready: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._waiting: Screenshot | None = None
        self._uploaded: tuple[Screenshot, dict[str, str]] | None = None  # a waiting shot whose file the hub has
        self._retry_s = 0.0
        self._retry_at = -math.inf
        self._last_refusal: str | None = None
        self.uploaded = 0
        self.last_row_id: str | None = None

    def submit(self, shot: Screenshot) -> None:
        """Thread-safe, non-blocking. A newer screenshot replaces one still waiting (only the newest matters)."""
        with self._lock:
            replaced = self._waiting is not None
            self._waiting = shot
        if replaced:
            log.debug("screenshot: an undelivered older screenshot was replaced by a newer one")
        if self.on_ready is not None:
            self.on_ready()

    @property
    def waiting(self) -> Screenshot | None:
        with self._lock:
            return self._waiting

    def next_due(self, now: float) -> float:
        return max(now, self._retry_at) if self.waiting is not None else math.inf

    def run(self, now: float) -> None:
        shot = self.waiting
        if shot is None:
            return
        screen = self.screen.pointer(self.client)
        if screen is None:
            return
        try:
            row = self._deliver(shot, screen)
        except HubUnavailable:
            raise  # the sender waits for the hub (its backoff); the uploaded file stays with the shot
        except HubError as exc:
            self._refused(now, exc)
            return
        if self._last_refusal is not None:
            log.info("screenshot: the hub took a screenshot again")
        self._retry_s, self._retry_at, self._last_refusal = 0.0, -math.inf, None
        new_id = row.get("objectId")
        with self._lock:
            if self._waiting is shot:  # delivered; a newer one submitted meanwhile stays waiting
                self._waiting = None
            self._uploaded = None
        self.uploaded += 1
        self.last_row_id = new_id if isinstance(new_id, str) else None
        if self.last_row_id is None:
            return
        older = self.client.query(self.class_name, {"screen": screen, "objectId": {"$ne": self.last_row_id}},
                                  keys="objectId", limit=1000)
        if older:
            results = self.client.batch([{"method": "DELETE", "path": f"/classes/{self.class_name}/{r['objectId']}"}
                                         for r in older if isinstance(r.get("objectId"), str)])
            failed = [r for r in results if not (isinstance(r, dict) and "success" in r)]
            if failed:
                log.warning("screenshot: %d older row(s) could not be deleted: %s", len(failed), failed[0])

    def _deliver(self, shot: Screenshot, screen: dict[str, str]) -> dict[str, object]:
        """Upload the file (unless this shot's file is on the hub already) and create the row."""
        with self._lock:
            parse_file = self._uploaded[1] if self._uploaded is not None and self._uploaded[0] is shot else None
        if parse_file is None:
            parse_file = self.client.upload_file(f"screen-{self.screen.uuid}.{shot.extension}", shot.data,
                                                 shot.content_type)
            with self._lock:
                self._uploaded = (shot, parse_file)
        return self.client.create(self.class_name, {
            "screenshot": {"__type": "File", "name": parse_file["name"], "url": parse_file["url"]},
            "screen": screen,
            "date": parse_date(shot.taken_at),
        })

    def _refused(self, now: float, exc: HubError) -> None:
        """The hub answered with an error (not an outage): wait 60 s, doubling up to 30 min; one line per error."""
        self._retry_s = RETRY_FIRST_S if not self._retry_s else min(self._retry_s * 2, RETRY_MAX_S)
        self._retry_at = now + self._retry_s
        message = str(exc)
        if message != self._last_refusal:
            log.error("screenshot: the hub refused it: %s (trying again after %.0f s, then less often, up to "
                      "every %.0f min)", message, self._retry_s, RETRY_MAX_S / 60)
            self._last_refusal = message
