"""Helpers for the fault suite (tests/test_faults_*.py, tests/integration/test_faults_hub.py).

- solid-colour PNGs and a one-image screen document whose centre pixel tells what is on screen;
- ``assert_cache_sound``: nothing in the cache is corrupt (deep consistency check and a re-hash of every file) and
  the published snapshot is complete;
- ``ServerProcess``: a :class:`httpfaults.FaultServer` in a child process on a fixed port, so that it can be killed
  with SIGKILL (sockets reset by the kernel, like a crashed server) and started again on the same port;
- ``small_filesystem``: a size-limited tmpfs (or a loop-mounted ext4 image) for disk-full tests;
- ``preview_rgb``: the centre pixel of ``render_preview`` of the configured source's last snapshot;
- ``wait_for``: poll a condition with a deadline (subprocess states; never a fixed sleep).

Run as a script (``python tests/faultkit.py serve ...``) it is the server child process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

RED = (230, 20, 20)
GREEN = (20, 200, 40)
BLUE = (20, 40, 230)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def solid_png(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 36), noise_rows: int = 0,
              seed: int = 0) -> bytes:
    """A PNG of one colour; *noise_rows* rows of random pixels at the top make it big (the centre stays solid)."""
    img = Image.new("RGB", size, rgb)
    if noise_rows:
        noise = Image.frombytes("RGB", (size[0], noise_rows), _randbytes(size[0] * noise_rows * 3, seed))
        img.paste(noise, (0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _randbytes(n: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def image_doc(srcs: list[str], duration: int = 30) -> dict[str, Any]:
    """A full-screen zone playing *srcs* (solid images); what is on screen is read from the centre pixel."""
    items = [{"type": "image", "src": s, "duration": duration} for s in srcs]
    return {"version": 1, "name": "Faults", "layouts": {"main": {
        "width": 1920, "height": 1080, "background": "#000000",
        "zones": [{"id": "z", "x": 0, "y": 0, "width": 1920, "height": 1080, "items": items}]}}}


def close_to(rgb: tuple[int, int, int], want: tuple[int, int, int], tol: int = 16) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, want, strict=True))


def write_config(tmp: Path, url: str, *, state_dir: Path | None = None, cache_dir: Path | None = None,
                 quota_mb: int = 200, **sections: dict[str, Any]) -> Path:
    """A player.toml for an http source (small retry waits); returns its path."""
    values: dict[str, dict[str, Any]] = {
        "player": {"state_dir": str(state_dir or tmp / "state"), "cache_dir": str(cache_dir or tmp / "cache")},
        "source": {"type": "http", "url": url},
        "sync": {"interval_s": 60, "retry_min_s": 1, "retry_max_s": 4},
        "cache": {"quota_mb": quota_mb},
    }
    for name, body in sections.items():
        values.setdefault(name, {}).update(body)
    lines: list[str] = []
    for name, body in values.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in body.items()]
    path = tmp / "player.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(path: Path) -> Any:
    from player.config import load_config

    config = load_config(path, env={})
    assert config.problems == (), config.problems
    return config


# ------------------------------------------------------------------------------------------------ the cache

def assert_cache_sound(cache_dir: Path, *, complete: bool = True) -> dict[str, str]:
    """Nothing corrupt in the cache: a deep consistency check finds nothing to repair, every stored file hashes to
    its name and is verified, and (with *complete*) the published snapshot has all its files. Returns its files."""
    from player.cache import ContentCache, hash_file
    from player.snapshots import SnapshotStore

    cache = ContentCache(cache_dir, 10**12)
    try:
        report = cache.check_consistency(deep=True)
        assert report.removed_rows == [] and report.removed_files == [], report
        stored = [p for p in (cache_dir / "files").rglob("*") if p.is_file()]
        for p in stored:
            assert hash_file(p)[0] == p.name, f"{p} is corrupt"
            assert cache.verify(p.name), f"{p} failed verify"
        assert cache.stats().files == len(stored)
        snap = SnapshotStore(cache_dir).load_current()
        if snap is None:
            assert not complete, "no published snapshot"
            return {}
        if complete:
            missing = [ref for ref, sha in snap.files.items() if not cache.has(sha)]
            assert not missing, f"published snapshot {snap.id} lacks {missing}"
        return dict(snap.files)
    finally:
        cache.close()


def preview_rgb(config_path: Path, size: tuple[int, int] = (320, 180)) -> tuple[int, int, int]:
    """Centre pixel of what the configured source's last snapshot shows (render_preview, offscreen, in-process)."""
    from player.ui.app import render_preview

    image, _ = render_preview(load(config_path), None, AT, size)
    c = image.pixelColor(image.width() // 2, image.height() // 2)
    return c.red(), c.green(), c.blue()


def preview_cli_rgb(config_path: Path, out: Path, size: tuple[int, int] = (320, 180)) -> tuple[int, int, int]:
    """The same through ``osc-player preview`` in a child process (what an operator would run)."""
    proc = subprocess.run([sys.executable, "-m", "player.cli", "preview", "--config", str(config_path),
                           "--at", AT.isoformat(), "--out", str(out), "--size", f"{size[0]}x{size[1]}"],
                          cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as img:
        px = img.convert("RGB").getpixel((size[0] // 2, size[1] // 2))
    assert isinstance(px, tuple)
    return int(px[0]), int(px[1]), int(px[2])


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen", **extra}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.01) -> None:
    """Poll *predicate* until it holds; fail naming *what* after *timeout* seconds (a deadline, not a threshold)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


# ------------------------------------------------------------------------------------------------ killable server

class ServerProcess:
    """A FaultServer serving *root* in a child process on a fixed port; :meth:`kill` is SIGKILL."""

    def __init__(self, root: Path, faults: dict[str, dict[str, Any]] | None = None) -> None:
        self.root = root
        self.faults = faults or {}
        self.port: int | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.log = root.parent / f"server-{uuid.uuid4().hex[:6]}.log"

    def start(self, faults: dict[str, dict[str, Any]] | None = None) -> ServerProcess:
        if faults is not None:
            self.faults = faults
        args = [sys.executable, str(Path(__file__).resolve()), "serve", str(self.root), str(self.port or 0),
                json.dumps(self.faults)]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE,
                                     stderr=open(self.log, "a"), text=True)  # noqa: SIM115 - owned by the child
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("READY "), f"server did not start: {line!r} {self.log.read_text()}"
        self.port = int(line.split()[1])
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


def _serve(root: Path, port: int, faults: dict[str, dict[str, Any]]) -> None:
    sys.path.insert(0, str(TESTS))
    from httpfaults import FaultServer, _make_handler, _QuietServer

    srv = FaultServer(root)
    if port:  # the same port again after a kill (SO_REUSEADDR is set by HTTPServer)
        srv._httpd.server_close()
        srv._httpd = _QuietServer(("127.0.0.1", port), _make_handler(srv))
        srv._httpd.daemon_threads = True
    for path, kwargs in faults.items():
        srv.fault(path, **kwargs)
    srv.start()
    print(f"READY {srv.port}", flush=True)
    assert srv._thread is not None
    srv._thread.join()  # until killed


# ------------------------------------------------------------------------------------------------ small disks

@contextlib.contextmanager
def small_filesystem(directory: Path, size_mb: int) -> Iterator[Path]:
    """Mount a *size_mb* filesystem on *directory*: tmpfs, else a loop-mounted ext4 image. When neither is
    possible the test fails under CI=true and is skipped elsewhere."""
    import pytest

    directory.mkdir(parents=True, exist_ok=True)
    tried: list[str] = []
    mounted = False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(directory)],
                       capture_output=True, text=True)
    if r.returncode == 0:
        mounted = True
    else:
        tried.append(f"tmpfs: {r.stderr.strip()}")
        image = directory.with_name(directory.name + ".img")
        with open(image, "wb") as fh:
            fh.truncate(size_mb * 1024 * 1024)
        mk = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True, text=True)
        if mk.returncode == 0:
            r = subprocess.run(["mount", "-o", "loop", str(image), str(directory)], capture_output=True, text=True)
            mounted = r.returncode == 0
            if not mounted:
                tried.append(f"loop ext4: {r.stderr.strip()}")
        else:
            tried.append(f"mkfs.ext4: {mk.stderr.strip()}")
    if not mounted:
        msg = "cannot mount a small filesystem (" + "; ".join(tried) + ")"
        if in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True)


def fill(directory: Path, leave_bytes: int = 0) -> Path:
    """Fill the filesystem of *directory* up to *leave_bytes* free; returns the filler file."""
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    filler = directory / "filler.bin"
    with open(filler, "wb") as fh:
        block = b"\0" * (64 * 1024)
        left = max(0, free - leave_bytes)
        while left > 0:
            try:
                left -= fh.write(block[:left])
                fh.flush()
            except OSError:
                break
    return filler


def free_bytes(directory: Path) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        _serve(Path(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]))
    else:
        print("usage: faultkit.py serve ROOT PORT FAULTS_JSON", file=sys.stderr)
        sys.exit(2)
