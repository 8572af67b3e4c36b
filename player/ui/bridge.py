"""Runs blocking work (disk, network, decoding) off the GUI thread and hands results back through queued signals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)


class WorkerBridge(QObject):
    """``submit(fn, on_done, on_error)``: ``fn`` runs on a worker thread; the callbacks run on the GUI thread.

    Callbacks of a receiver that was deleted meanwhile are dropped (the owner passes ``alive``)."""

    _finished = Signal(object)

    def __init__(self, workers: int = 2, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="osc-worker")
        self._finished.connect(self._deliver)

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None) -> Future[Any]:
        future = self._pool.submit(fn)
        future.add_done_callback(lambda f: self._finished.emit((f, on_done, on_error)))
        return future

    @Slot(object)
    def _deliver(self, packet: tuple[Future[Any], Callable[[Any], None], Callable[[BaseException], None] | None]) -> None:
        future, on_done, on_error = packet
        if future.cancelled():
            return
        exc = future.exception()
        try:
            if exc is None:
                on_done(future.result())
            elif on_error is not None:
                on_error(exc)
            else:
                log.error("background task failed: %s", exc)
        except RuntimeError as err:  # the receiving widget was deleted in the meantime
            log.debug("dropped a result for a deleted receiver: %s", err)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_shared: WorkerBridge | None = None


def shared_bridge() -> WorkerBridge:
    global _shared
    if _shared is None:
        _shared = WorkerBridge()
    return _shared
