"""One JSON document on disk: read without a lock, changed under an exclusive `flock`.

Writers replace the file atomically (write a temporary file beside it, then `os.replace`), so
a reader always sees one complete version and never needs a lock. Read-modify-write cycles
take an exclusive `fcntl.flock` on a sidecar `.lock` file (the data file itself is replaced,
so it cannot carry the lock). `flock` locks belong to an open file description, so they
serialise threads of one process as well as separate worker processes on one machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class JsonFile:
    """A JSON object stored at `path`; a missing file reads as `{}`."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.fsync = fsync

    def read(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    @contextmanager
    def change(self) -> Iterator[dict]:
        """Yield the current document for in-place changes; write it back unless the block raised.

        An exception inside the block leaves the file untouched, which is what makes every
        storage method that runs in one `change()` atomic.
        """
        with open(self.lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                document = self.read()
                yield document
                self._replace(document)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _replace(self, document: dict) -> None:
        handle = tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp",
            delete=False,
        )
        try:
            with handle:
                # dumps, not dump: one call into the C encoder instead of many small writes.
                handle.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")))
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            os.replace(handle.name, self.path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        if self.fsync:
            _fsync_directory(self.path.parent)


def _fsync_directory(path: Path) -> None:
    """Make the rename itself durable (POSIX keeps directory entries in the directory's data)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
