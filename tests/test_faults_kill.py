"""Fault: kill -9 of the whole player (``osc-player run``, offscreen) at random moments, 20 rounds, each followed by a
clean start. After every round the player comes up and shows the newest content (checked by the pixels of a preview
of its last snapshot), the cache is sound, and no proof-of-play record that was committed is lost or duplicated.

Every round changes the screen document, so a kill can hit start-up, the download, preparing/publishing or
playback. The random seed is printed (set FAULT_SEED to repeat a run). tests/test_sync_kill.py kills
``osc-player sync --once``; tests/test_report_queue.py kills an enqueuing child three times in a row; here the two
die together with the player, twenty times, and the records go through ProofRecorder as the player's do.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from faultkit import (
    BLUE,
    GREEN,
    RED,
    ROOT,
    assert_cache_sound,
    child_env,
    close_to,
    image_doc,
    load,
    preview_rgb,
    solid_png,
    wait_for,
    write_config,
)
from player.report.queue import Outbox
from player.snapshots import SnapshotStore

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]

ROUNDS = 20
COLOURS = [RED, GREEN, BLUE]

RECORD_FOREVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from player.report.proof import ProofRecorder
    from player.report.queue import Outbox
    box = Outbox({path!r})
    rec = ProofRecorder(box, "faults-screen")
    i = 0
    while True:
        rec.started("z", "z", "{tag}-%d" % i, "c.png", "main")  # ends play i-1: one record
        box.flush()
        if i:
            print("{tag}-%d" % (i - 1), flush=True)  # printed only once that record is committed
        i += 1
""")


def start_player(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "player.cli", "run", "--windowed", "480x270", "--config",
                                 str(config_path)], cwd=ROOT, env=child_env(), stdout=out, stderr=out)


def start_recorder(outbox: Path, tag: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", RECORD_FOREVER.format(root=str(ROOT), path=str(outbox), tag=tag)],
                            stdout=subprocess.PIPE, text=True)


def shows_round(store: SnapshotStore, ref: str) -> bool:
    """The current snapshot is this round's document and the window has shown it."""
    snap = store.load_current()
    return snap is not None and ref in snap.files and store.on_screen_id() == snap.id


def test_kill_9_of_the_player_at_random_moments_then_clean_start(qapp, tmp_path: Path) -> None:  # noqa: ANN001
    seed = int(os.environ.get("FAULT_SEED", random.randrange(1 << 30)))
    print(f"\nkill -9 rounds: FAULT_SEED={seed}")
    rnd = random.Random(seed)
    files = {f"/s/c{r}.png": solid_png(COLOURS[r % 3], (800, 600), noise_rows=120, seed=r) for r in range(ROUNDS)}
    committed: list[str] = []
    outbox_path = tmp_path / "state" / "report-outbox.sqlite"
    moments: dict[str, int] = {}
    with FaultServer(files) as srv:
        for path in files:
            srv.fault(path, delay=0.02)  # a download takes about half a second: room to be killed in
        config_path = write_config(tmp_path, srv.url("/s/screen.json"), sync={"retry_min_s": 1, "retry_max_s": 2})
        config = load(config_path)
        store = SnapshotStore(config.cache_dir)
        for r in range(ROUNDS):
            ref = f"c{r}.png"
            context = f"round {r}, FAULT_SEED={seed}"
            srv.set_file("/s/screen.json", json.dumps(image_doc([ref])).encode(), "application/json")
            log = tmp_path / f"player-{r}.log"
            player = start_player(config_path, log)
            recorder = start_recorder(outbox_path, f"r{r}")
            moment = rnd.choice(["start-up", "download", "playback"])
            moments[moment] = moments.get(moment, 0) + 1
            if moment == "download":
                wait_for(lambda ref=ref: srv.arrivals(f"/s/{ref}") >= 1 or shows_round(store, ref), 60,
                         f"the download ({context})")
                time.sleep(rnd.uniform(0, 0.4))  # the random instant of the kill (fault injection, not a wait)
            elif moment == "playback":
                wait_for(lambda ref=ref: shows_round(store, ref), 60, f"the new content on screen ({context})")
                time.sleep(rnd.uniform(0, 0.5))
            else:
                time.sleep(rnd.uniform(0, 1.5))
            assert player.poll() is None, f"the player exited by itself ({context}): {log.read_text()[-2000:]}"
            assert recorder.poll() is None
            player.send_signal(signal.SIGKILL)
            recorder.send_signal(signal.SIGKILL)
            player.wait(10)
            assert recorder.stdout is not None
            committed.extend(line.strip() for line in recorder.stdout.read().splitlines() if line.strip())
            recorder.wait(10)

            # a clean start: the player comes up and shows this round's content; then a normal stop
            clean_log = tmp_path / f"player-{r}-clean.log"
            player = start_player(config_path, clean_log)

            def up(ref: str = ref, clean_log: Path = clean_log) -> bool:  # this process put the layout on screen, and it is this round's snapshot
                return "layout 'main' on screen" in clean_log.read_text() and shows_round(store, ref)

            try:
                wait_for(lambda player=player: up() or player.poll() is not None, 60, f"the clean start to show {ref} ({context})")
                assert player.poll() is None, f"the player died ({context}): {clean_log.read_text()[-2000:]}"
                player.send_signal(signal.SIGTERM)
                assert player.wait(30) == 0, f"{context}: {clean_log.read_text()[-2000:]}"
            finally:
                if player.poll() is None:
                    player.kill()
                    player.wait(10)
            for text in (log.read_text(), clean_log.read_text()):
                assert "Traceback" not in text, f"{context}: {text[-3000:]}"
            assert close_to(preview_rgb(config_path), COLOURS[r % 3]), context
            files_now = assert_cache_sound(config.cache_dir)
            assert set(files_now) == {ref}, context

    print(f"kill moments: {moments}; proof-of-play records committed before the kills: {len(committed)}")
    box = Outbox(outbox_path)
    try:
        ids = [rec.payload["itemId"] for rec in box.pending("proof", limit=1_000_000)]
    finally:
        box.close()
    assert len(committed) >= ROUNDS
    assert set(committed) <= set(ids), f"lost: {sorted(set(committed) - set(ids))[:5]} (FAULT_SEED={seed})"
    assert len(ids) == len(set(ids)), "a record was stored twice"
    assert len(ids) - len(committed) <= ROUNDS  # at most the record in flight at each kill
