"""An ordered, on-disk backlog of encoded event batches: every batch the HTTP sink has not yet
had acknowledged (it writes each one here before sending it).

One file per batch, written then renamed (a crash leaves whole batches), kept byte for byte
until delivered so its ``Idempotency-Key`` is stable. Each emitter holds its writer folder with
an ``flock`` and adopts the folders of writers that are gone, so a backlog survives a restart."""

import fcntl
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".batch"

Batch = list[bytes]


@dataclass(frozen=True)
class Segment:
    path: Path
    batch: Batch

    @property
    def stem(self) -> str:
        return self.path.name[: -len(SUFFIX)]


class Spool:
    def __init__(self, root: Path | str, *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.dir = self.root / f"w-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.dir.mkdir()
        self._lock_fd = _try_lock(self.dir)
        assert self._lock_fd is not None, "a fresh writer folder is always free"
        self._mutex = threading.Lock()
        self._names: list[str] = []  # stems, in delivery order
        self._seq = 0
        self.events = 0
        self._adopt_orphans()

    # -- queries ---------------------------------------------------------------------
    def __len__(self) -> int:
        with self._mutex:
            return len(self._names)

    def head(self) -> Segment | None:
        with self._mutex:
            if not self._names:
                return None
            path = self.dir / f"{self._names[0]}{SUFFIX}"
        return Segment(path, read_batch(path))

    # -- changes ---------------------------------------------------------------------
    def append(self, batch: Batch) -> None:
        """Add a batch at the end of the backlog."""
        if not batch:
            return
        with self._mutex:
            stem = f"{self._seq:016d}"
            self._seq += 1
            self._write(stem, batch)
            self._names.append(stem)
            self.events += len(batch)

    def remove(self, segment: Segment) -> None:
        with self._mutex:
            self._names.remove(segment.stem)
            self.events -= len(segment.batch)
        segment.path.unlink(missing_ok=True)

    def replace(self, segment: Segment, batches: list[Batch]) -> None:
        """Put ``batches`` where ``segment`` stood (what is left of it after a split)."""
        with self._mutex:
            at = self._names.index(segment.stem)
            stems = [f"{segment.stem}-{i:04d}" for i in range(len(batches))]
            for stem, batch in zip(stems, batches):
                self._write(stem, batch)
            self._names[at:at + 1] = stems
            self.events += sum(len(b) for b in batches) - len(segment.batch)
        segment.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Release the folder (removed when empty; kept, unlocked, for the next process)."""
        if self._lock_fd is None:
            return
        with self._mutex:
            empty = not self._names
        if empty:
            for leftover in self.dir.glob(".tmp-*"):
                leftover.unlink(missing_ok=True)
            try:
                self.dir.rmdir()
            except OSError:
                pass
        os.close(self._lock_fd)
        self._lock_fd = None

    # -- internals -------------------------------------------------------------------
    def _write(self, stem: str, batch: Batch) -> None:
        tmp = self.dir / f".tmp-{stem}"
        with tmp.open("wb") as fh:
            fh.write(b"\n".join(batch))
            fh.write(b"\n")
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, self.dir / f"{stem}{SUFFIX}")

    def _adopt_orphans(self) -> None:
        """Take over the batches of writers that died, oldest folder first."""
        others = sorted((d for d in self.root.glob("w-*") if d.is_dir() and d != self.dir),
                        key=lambda d: d.stat().st_mtime)
        for folder in others:
            fd = _try_lock(folder)
            if fd is None:
                continue  # a live writer owns it
            try:
                for path in sorted(folder.glob(f"*{SUFFIX}")):
                    batch = read_batch(path)
                    self.append(batch)
                    path.unlink()
                for leftover in folder.glob(".tmp-*"):
                    leftover.unlink(missing_ok=True)
                folder.rmdir()
            finally:
                os.close(fd)


def read_batch(path: Path) -> Batch:
    return [line for line in path.read_bytes().split(b"\n") if line]


def _try_lock(folder: Path) -> int | None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
