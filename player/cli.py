"""``osc-player`` command line: run, demo, validate, preview, schedule."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from player import __version__
from player.config import Config, load_config

if TYPE_CHECKING:
    from player.sync import SyncProgress

log = logging.getLogger("player")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        size = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 1920x1080") from None
    if not (16 <= size[0] <= 16384 and 16 <= size[1] <= 16384):
        raise argparse.ArgumentTypeError(f"'{text}': width and height must be 16..16384")
    return size


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO 8601 date-time like 2026-12-01T10:00:00+01:00") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"'{text}' needs a UTC offset, e.g. 2026-12-01T10:00:00+01:00")
    return when


def _local_or_instant(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a UTC offset it is local wall time, turned into an instant later in
    the schedule's time zone (:func:`_in_zone`)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO 8601 date-time like 2026-12-21T00:00 (local time) "
                                         "or 2026-12-01T10:00:00+01:00") from None


def _in_zone(when: datetime, tz: ZoneInfo, option: str) -> datetime:
    """*when* as an instant: with a UTC offset as given; without, as local wall time in *tz* by the schedule's own
    DST rule (a time in the spring-forward gap means the first instant after it, a time that occurs twice at
    fall-back its first occurrence), said in one line on stderr when it applies."""
    from player.schedule import to_instant

    if when.utcoffset() is not None:
        return when
    local = when.replace(tzinfo=None, fold=0)
    instant = to_instant(local, tz)
    if tz.utcoffset(local) != tz.utcoffset(local.replace(fold=1)):
        shown = instant.astimezone(tz)
        if shown.replace(tzinfo=None) == local:
            print(f"{option} {local.isoformat(timespec='minutes')} occurs twice in {tz.key} (clocks go back); "
                  f"using the first, {shown:%H:%M} {shown.tzname()}", file=sys.stderr)
        else:
            print(f"{option} {local.isoformat(timespec='minutes')} does not exist in {tz.key} (clocks go forward); "
                  f"using the first instant after the gap, {shown:%H:%M} {shown.tzname()}", file=sys.stderr)
    return instant


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="osc-player", description="Digital-signage player for public screens.")
    p.add_argument("--version", action="version", version=f"osc-player {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="play the configured content fullscreen")
    run.add_argument("--config", type=Path, help="player.toml (default /etc/osc-player/player.toml)")
    run.add_argument("--source", type=Path, help="play this folder (screen.json + media) instead of the configured source")
    run.add_argument("--windowed", type=_size, metavar="WxH", help="a normal window of this size instead of fullscreen")
    run.add_argument("--exit-after", type=float, metavar="S", help="quit after S seconds (tests, benchmarks)")

    demo = sub.add_parser("demo", help="play the built-in demo content")
    demo.add_argument("--config", type=Path)
    demo.add_argument("--windowed", type=_size, metavar="WxH")
    demo.add_argument("--exit-after", type=float, metavar="S")

    val = sub.add_parser("validate", help="check screen documents (exit 1 with one line per problem)")
    val.add_argument("files", type=Path, nargs="+")

    prev = sub.add_parser("preview", help="render what the screen shows at a moment into a PNG (headless)")
    prev.add_argument("--config", type=Path)
    prev.add_argument("--source", type=Path, help="a folder; default: the configured source (its last snapshot)")
    prev.add_argument("--at", type=_instant, required=True, metavar="ISO8601")
    prev.add_argument("--out", type=Path, required=True)
    prev.add_argument("--size", type=_size, default=(1920, 1080), metavar="WxH")

    sched = sub.add_parser("schedule", help="print the timeline: which layout plays when")
    sched.add_argument("--config", type=Path)
    sched.add_argument("--source", type=Path, required=True)
    sched.add_argument("--from", dest="start", type=_local_or_instant, required=True, metavar="ISO8601",
                       help="e.g. 2026-12-21T00:00 (local time in the schedule's time zone) or with a UTC offset")
    sched.add_argument("--to", dest="end", type=_local_or_instant, required=True, metavar="ISO8601")
    _add_sync_commands(sub)
    return p


def _setup_logging(level: str = "info") -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    # APScheduler says "Running job ..." at INFO for every feed refresh: months of that fill the journal
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _config(path: Path | None) -> Config:
    config = load_config(path)
    for line in config.problems:
        log.warning("%s", line)
    return config


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging()
    if args.command == "validate":
        return cmd_validate(args.files)
    config = _config(args.config)
    logging.getLogger().setLevel(getattr(logging, config["player"]["log_level"].upper(), logging.INFO))
    if args.command in ("demo", "run"):
        from player.memory import tune_malloc

        tune_malloc()  # before Qt and the player's modules load, so that their memory follows the settings too
        from player.ui.app import DEMO_DIR, run_player

        folder = DEMO_DIR if args.command == "demo" else _folder(args.source, config)
        return run_player(config, folder, args.windowed, args.exit_after)
    if args.command == "preview":
        return cmd_preview(config, _folder(args.source, config), args.at, args.out, args.size)
    if args.command == "schedule":
        return cmd_schedule(config, args.source, args.start, args.end)
    if args.command in ("sync", "status"):
        return cmd_sync_commands(config, args)
    return 2


def _folder(explicit: Path | None, config: Config) -> Path | None:
    """--source always means "play this folder"; else the configured folder (the demo when none is set);
    None for the remote sources (http, hub), which play through the cache."""
    if explicit is not None:
        return explicit
    if config["source"]["type"] != "folder":
        return None
    from player.ui.app import DEMO_DIR

    return Path(config["source"]["path"]) if config["source"]["path"] else DEMO_DIR


def cmd_validate(files: list[Path]) -> int:
    from player.layouts import DocumentError, load_screen

    bad = 0
    for path in files:
        try:
            load_screen(path, strict=True)
            print(f"{path}: ok")
        except DocumentError as exc:
            bad += 1
            for line in exc.lines:
                print(line)
    return 1 if bad else 0


def cmd_preview(config: Config, source: Path | None, at: datetime, out: Path, size: tuple[int, int]) -> int:
    from player.layouts import DocumentError
    from player.ui.app import render_preview

    try:
        image, defects = render_preview(config, source, at, size)
    except DocumentError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 1
    for line in defects:
        log.warning("%s", line)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):  # type: ignore[call-overload]  # its stub says bytes; run time wants str
        print(f"{out}: cannot write the PNG", file=sys.stderr)
        return 1
    print(f"{out}: {image.width()}x{image.height()}")
    return 0


def cmd_schedule(config: Config, source: Path, start: datetime, end: datetime) -> int:
    from player.layouts import DocumentError
    from player.schedule import format_timeline, timeline
    from player.sources.folder import FolderSource

    try:
        loaded = FolderSource(source, timezone=config.timezone).load()
    except DocumentError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 1
    schedule = loaded.screen.schedule
    tz = ZoneInfo(schedule.timezone)
    start, end = _in_zone(start, tz, "--from"), _in_zone(end, tz, "--to")
    if end <= start:
        print("--to must be after --from", file=sys.stderr)
        return 2
    print(format_timeline(timeline(schedule, start, end), tz))
    return 0


# ---------------------------------------------------------------------------------------------------------------
# sync / status (offline cache and sync, docs/sync.md)
# ---------------------------------------------------------------------------------------------------------------

EXIT_BUSY = 75  # EX_TEMPFAIL: another process (the player service) holds the cache's sync lock; try again later


def _add_sync_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = sub.add_parser("sync", help="download the configured source into the cache and publish a snapshot")
    sync.add_argument("--config", type=Path, help="player.toml (default /etc/osc-player/player.toml)")
    sync.add_argument("--once", action="store_true",
                      help=f"one sync, then exit (0: ok or unchanged, 1: failed, {EXIT_BUSY}: another process "
                           "is syncing the same cache)")
    sync.add_argument("--quiet", action="store_true", help="no progress bar")
    status = sub.add_parser("status", help="print the sync/cache status as JSON")
    status.add_argument("--config", type=Path, help="player.toml (default /etc/osc-player/player.toml)")


class _ProgressBar:
    """A plain-text progress bar on stderr: redrawn in place on a terminal, a line per 10 % otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream: TextIO = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last_step = -1
        self.drawn = False

    def __call__(self, p: SyncProgress) -> None:
        done, total, bdone, btotal = p.files_done, p.files_total, p.bytes_done, p.bytes_total
        frac = (bdone / btotal) if btotal else (done / total if total else 1.0)
        frac = min(1.0, max(0.0, frac))
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        line = f"[{bar}] {done}/{total} files  {bdone / 2**20:.1f}/{btotal / 2**20:.1f} MB"
        if self.tty:
            self.stream.write("\r" + line)
            self.drawn = True
        else:
            step = int(frac * 10)
            if step == self.last_step and done != total:
                return
            self.last_step = step
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def cmd_sync_commands(config: Config, args: argparse.Namespace) -> int:
    import json
    import signal
    import threading

    from player.sources.base import SourceError
    from player.sync import SyncService, read_status

    if args.command == "status":
        print(json.dumps(read_status(config), indent=2, ensure_ascii=False, sort_keys=True))
        return 0
    if config["source"]["type"] == "folder":
        print("source.type = folder: the folder is read directly, there is nothing to sync", file=sys.stderr)
        return 0
    bar = None if args.quiet else _ProgressBar()
    try:
        service = SyncService.from_config(config, on_progress=bar)
    except SourceError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return 1
    try:
        if not service.recover() and args.once:
            print(f"sync: refused: {service.busy_message()}", file=sys.stderr)
            return EXIT_BUSY
        if args.once:
            outcome = service.sync_once()
            if bar is not None:
                bar.end()
            if outcome.result == "busy":
                print(f"sync: refused: {outcome.message}", file=sys.stderr)
                return EXIT_BUSY
            service.write_status()
            if outcome.ok:
                print(f"sync: {outcome.result}" + (f" {outcome.snapshot_id}" if outcome.snapshot_id else "")
                      + f" ({outcome.files} files, {outcome.downloaded} downloaded, {outcome.seconds:.1f} s)",
                      file=sys.stderr)
            return 0 if outcome.ok else 1
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: service.stop())
        service.run_forever(stop)
        return 0
    finally:
        service.close()


if __name__ == "__main__":
    sys.exit(main())
