"""The spool: records the database could not take wait here, as JSON lines, until they can be replayed.

New records are appended to ``pending.jsonl`` (fsync'd per append). To replay, ``take()`` renames that
file to ``replay.jsonl`` (or, when a failed replay left one, appends it there: one file per outage, however
many retries) and returns its records; ``done()`` deletes it once the database has them. Records spilled
meanwhile go to a fresh ``pending.jsonl``, so nothing is lost between reading and deleting. Records the database rejects
for good (bad data, not an outage) go to ``rejected.jsonl`` for a person to look at.

All methods are blocking file I/O: call them through ``asyncio.to_thread``. They are thread-safe.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Record = dict[str, Any]


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pending = self.directory / "pending.jsonl"
        self.rejected = self.directory / "rejected.jsonl"
        self.replay = self.directory / "replay.jsonl"
        self._lock = threading.Lock()

    def append(self, records: list[Record]) -> None:
        """Append records durably (one fsync). Raises OSError when the disk refuses."""
        self._write(self.pending, records)

    def reject(self, records: list[Record]) -> None:
        """Keep records the database will never accept."""
        self._write(self.rejected, records)

    def has_records(self) -> bool:
        with self._lock:
            return self.pending.exists() or self.replay.exists() or any(self.directory.glob("replay-*.jsonl"))

    def count(self) -> int:
        """Records waiting (lines in the spool's files)."""
        with self._lock:
            paths = [p for p in (self.replay, *self.directory.glob("replay-*.jsonl"), self.pending) if p.exists()]
            return sum(_lines(p) for p in paths)

    def take(self) -> tuple[list[Record], list[Path]]:
        """Every spooled record (the replay file first, then pending), and the files they came from."""
        with self._lock:
            if self.pending.exists():
                if self.replay.exists():  # a replay failed before: one file per outage, not one per retry
                    with open(self.replay, "ab") as into:
                        into.write(self._separated(self.replay, self.pending.read_bytes()))
                        into.flush()
                        os.fsync(into.fileno())
                    self.pending.unlink()
                else:
                    self.pending.rename(self.replay)
                _fsync_dir(self.directory)
            # replay-<n>.jsonl: left by earlier versions, one per retry
            paths = [*sorted(self.directory.glob("replay-*.jsonl")), *([self.replay] if self.replay.exists() else [])]
        records: list[Record] = []
        for path in paths:
            records.extend(_read(path))
        return records, paths

    def done(self, paths: list[Path]) -> None:
        """The records from these files are in the database."""
        for path in paths:
            path.unlink(missing_ok=True)
        if paths:
            _fsync_dir(self.directory)

    def _write(self, path: Path, records: list[Record]) -> None:
        if not records:
            return
        data = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in records).encode()
        with self._lock, open(path, "a+b") as f:
            f.write(self._separated(path, data))
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _separated(path: Path, data: bytes) -> bytes:
        """``data`` to append to ``path``, after a line break if a torn last line would swallow it."""
        if path.exists() and path.stat().st_size > 0:
            with open(path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    return b"\n" + data
        return data


def _read(path: Path) -> list[Record]:
    records: list[Record] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                # Only a crash in the middle of an append leaves a torn line; it is the last one.
                log.error("spool line unreadable, skipped", file=str(path), line=number)
    return records


def _lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
