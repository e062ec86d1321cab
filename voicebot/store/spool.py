"""The spool: records the database could not take wait here, as JSON lines, until they can be replayed.

New records are appended to ``pending.jsonl`` (fsync'd per append). To replay, ``take()`` renames that
file to ``replay-<n>.jsonl`` and returns every replay file's records; ``done()`` deletes them once the
database has them. A failed replay leaves the files for the next try, and records spilled meanwhile go to
a fresh ``pending.jsonl``, so nothing is lost between reading and deleting. Records the database rejects
for good (bad data, not an outage) go to ``rejected.jsonl`` for a person to look at.

All methods are blocking file I/O: call them through ``asyncio.to_thread``. They are thread-safe.
"""

from __future__ import annotations

import json
import os
import threading
import time
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
        self._lock = threading.Lock()

    def append(self, records: list[Record]) -> None:
        """Append records durably (one fsync). Raises OSError when the disk refuses."""
        self._write(self.pending, records)

    def reject(self, records: list[Record]) -> None:
        """Keep records the database will never accept."""
        self._write(self.rejected, records)

    def has_records(self) -> bool:
        with self._lock:
            return self.pending.exists() or any(self.directory.glob("replay-*.jsonl"))

    def take(self) -> tuple[list[Record], list[Path]]:
        """Every spooled record (replay files first, then pending), and the files they came from."""
        with self._lock:
            if self.pending.exists():
                self.pending.rename(self.directory / f"replay-{time.time_ns():020d}.jsonl")
            paths = sorted(self.directory.glob("replay-*.jsonl"))
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
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a torn last line must not swallow the next record
                    data = b"\n" + data
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


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
