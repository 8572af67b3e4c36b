"""Benchmark: mirror N files / S MB from a local HTTP server with the real sync, against curl in the same run.

    .venv/bin/python bench/sync.py [--files 300] [--size-mb 1024] [--parallel 2]

1. Generates the files (random bytes) and a screen.json referencing them (as video items: no preparation step).
2. Serves them from a ThreadingHTTPServer on 127.0.0.1 (HTTP/1.1 keep-alive, sendfile, Last-Modified/304), so the
   server is not the bottleneck.
3. Baseline: one curl process fetching every file one after another (one connection, files written to disk).
4. First sync (``SyncService.sync_once``: download, verify by hash, fsync, publish): time and ratio to curl.
5. Re-sync with nothing changed: requests, body bytes and time (goal: 1 conditional request, 0 bytes, < 1 s).
6. Re-sync after the document's validators changed (same bytes): what that costs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from player.config import load_config  # noqa: E402
from player.sync import SyncService  # noqa: E402

MIB = 1024 * 1024


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, int, int]] = []  # path, status, body bytes

    def add(self, path: str, status: int, size: int) -> None:
        with self.lock:
            self.requests.append((path, status, size))

    def reset(self) -> list[tuple[str, int, int]]:
        with self.lock:
            out, self.requests = self.requests, []
            return out


def make_server(root: Path, counter: Counter) -> ThreadingHTTPServer:
    class Handler(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def send_head(self):  # type: ignore[no-untyped-def]
            self._status = 0
            return super().send_head()

        def send_response(self, code: int, message: str | None = None) -> None:
            self._status = code
            super().send_response(code, message)

        def copyfile(self, source, outputfile) -> None:  # type: ignore[no-untyped-def]
            size = os.fstat(source.fileno()).st_size
            self.wfile.flush()
            self.connection.sendfile(source)
            self._sent = size

        def do_GET(self) -> None:  # noqa: N802
            self._sent = 0
            super().do_GET()
            counter.add(self.path, self._status, self._sent)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def generate(root: Path, files: int, total_mb: int) -> list[str]:
    size = total_mb * MIB // files
    names = []
    (root / "media").mkdir(parents=True)
    for i in range(files):
        name = f"media/f{i:04d}.bin"
        with open(root / name, "wb") as fh:
            fh.write(os.urandom(size))
        names.append(name)
    items = [{"type": "video", "src": n} for n in names]
    doc = {"version": 1, "layouts": {"main": {"width": 1920, "height": 1080, "zones": [
        {"id": "z", "x": 0, "y": 0, "width": 1920, "height": 1080, "items": items}]}}}
    (root / "screen.json").write_text(json.dumps(doc), encoding="utf-8")
    return names


def run_curl(base: str, names: list[str], out: Path) -> float | None:
    curl = shutil.which("curl")
    if curl is None:
        return None
    out.mkdir()
    cfg = out / "curl.cfg"
    cfg.write_text("".join(f'url = "{base}/{n}"\noutput = "{out / n.replace("/", "_")}"\n' for n in names))
    t = time.perf_counter()
    subprocess.run([curl, "-s", "-f", "-K", str(cfg)], check=True)
    for f in out.glob("*.bin"):  # make it as durable as the cache (which fsyncs every file)
        fd = os.open(f, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--parallel", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="osc-bench-sync-"))
    try:
        web = tmp / "web"
        t = time.perf_counter()
        names = generate(web, args.files, args.size_mb)
        total = sum((web / n).stat().st_size for n in names)
        print(f"generated {len(names)} files, {total / MIB:.0f} MB in {time.perf_counter() - t:.1f} s")
        counter = Counter()
        server = make_server(web, counter)
        base = f"http://127.0.0.1:{server.server_address[1]}"

        curl_s = run_curl(base, names, tmp / "curl")
        counter.reset()
        if curl_s is None:
            print("curl: not installed (apt-get install -y curl); no baseline")
        else:
            print(f"curl, one file after another: {curl_s:.2f} s = {total / MIB / curl_s:.0f} MB/s")

        toml = tmp / "player.toml"
        toml.write_text(f'[player]\nstate_dir = "{tmp / "state"}"\ncache_dir = "{tmp / "cache"}"\n'
                        f'[source]\ntype = "http"\nurl = "{base}/screen.json"\n'
                        f'[cache]\nquota_mb = {args.size_mb * 2 + 100}\nparallel_downloads = {args.parallel}\n')
        config = load_config(toml, env={})
        assert not config.problems, config.problems
        service = SyncService.from_config(config)
        try:
            service.recover()
            t = time.perf_counter()
            first = service.sync_once()
            sync_s = time.perf_counter() - t
            reqs = counter.reset()
            assert first.result == "published", first
            print(f"sync (parallel {args.parallel}, hash-verified, fsynced, published): {sync_s:.2f} s = "
                  f"{total / MIB / sync_s:.0f} MB/s, {len(reqs)} requests, {first.downloaded} files downloaded")
            if curl_s:
                print(f"  ratio sync/curl time: {sync_s / curl_s:.2f} (below 1: faster than curl)")

            t = time.perf_counter()
            again = service.sync_once()
            again_s = time.perf_counter() - t
            reqs = counter.reset()
            body = sum(r[2] for r in reqs)
            print(f"re-sync, nothing changed: {again.result}, {len(reqs)} requests "
                  f"({', '.join(sorted({str(r[1]) for r in reqs}))}), {body} body bytes, "
                  f"{again.downloaded} files downloaded, {again_s * 1000:.1f} ms")

            # new validators for the document, same bytes
            os.utime(web / "screen.json", (time.time() + 5, time.time() + 5))
            t = time.perf_counter()
            touched = service.sync_once()
            touched_s = time.perf_counter() - t
            reqs = counter.reset()
            print(f"re-sync, document touched (same bytes): {touched.result}, {len(reqs)} requests, "
                  f"{sum(r[2] for r in reqs)} body bytes, {touched_s * 1000:.1f} ms")

            # document content changed (every media file revalidated with a conditional request)
            doc = json.loads((web / "screen.json").read_text())
            doc["name"] = "changed"
            (web / "screen.json").write_text(json.dumps(doc))
            os.utime(web / "screen.json", (time.time() + 10, time.time() + 10))
            t = time.perf_counter()
            changed = service.sync_once()
            changed_s = time.perf_counter() - t
            reqs = counter.reset()
            print(f"re-sync, document changed, media unchanged: {changed.result}, {len(reqs)} requests "
                  f"({sum(1 for r in reqs if r[1] == 304)} x 304), {changed.downloaded} files downloaded, "
                  f"{changed_s:.2f} s")
        finally:
            service.close()
            server.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
