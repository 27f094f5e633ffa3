"""The landing folder (``<landing>/<marketplace>/<category>/<region>/<file>``): which entries are
feeds, what context their path gives, when they are ready (no temporary name, size and mtime
settled) and how each version is identified: its digest (path + size + mtime, + ETag on S3) is
the sensor's ``run_key`` and, through a UUIDv5, the job's id. ``path`` may be ``s3://bucket/key``.
Links are never followed; names are bytes on disk, so undecodable ones are shown escaped.
"""

import hashlib
import os
import stat
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from jobs_pipeline.domain.model import JobContext, Tier

TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart", ".swp")
_JOB_NS = uuid.UUID("a9c51f3e-7a0b-4d43-9d0f-5b8f6a3e2c10")
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}  # control, format (bidi), surrogate, private, breaks


def _raw(text: str) -> bytes:
    """The bytes of a name as the filesystem holds them (undecodable bytes are surrogate escapes)."""
    return text.encode("utf-8", "surrogateescape")


def shown(relpath: str) -> str:
    """``relpath`` safe to log on one line: undecodable bytes as ``\\xNN``, invisible characters escaped."""
    text = _raw(relpath).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)


@dataclass(frozen=True)
class LandedFile:
    relpath: str
    path: Path | str
    size: int
    mtime_ns: int
    etag: str | None = None
    changed_ns: int = 0  # the inode's change time (ctime): set by the kernel, never preserved by a copy
    folder: str = ""  # identity of the folder chain (names and inodes) holding the file
    problem: str | None = None  # why this entry can never be a feed (a link, not a regular file)

    @property
    def version(self) -> str:
        base = f"{self.relpath}|{self.size}|{self.mtime_ns}"
        return f"{base}|{self.etag}" if self.etag else base

    @property
    def run_key(self) -> str:
        return hashlib.sha256(_raw(self.version)).hexdigest()[:32]

    @property
    def digest(self) -> str:
        """Short fingerprint kept in the sensor cursor."""
        return self.run_key[:16]

    @property
    def job_id(self) -> uuid.UUID:
        return uuid.uuid5(_JOB_NS, _raw(self.version).decode("utf-8", "backslashreplace"))


def is_temporary(name: str) -> bool:
    return name.startswith((".", "~")) or name.lower().endswith(TEMP_SUFFIXES)


def name_problem(relpath: str) -> str | None:
    """Why a path can never name a feed whatever its folders: undecodable or invisible characters."""
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:
        return "the name is not valid UTF-8 (rename the file)"
    if any(unicodedata.category(c) in _HIDDEN_CATEGORIES for c in relpath):
        return "the name holds control or invisible characters (rename the file)"
    return None


def context_from_relpath(relpath: str, tier: Tier | str = Tier.FREE) -> JobContext:
    """``marketplace/category/region/file`` -> context; ``ValueError`` with the reason otherwise.
    The path is split on ``/`` as given: an empty, ``.`` or ``..`` step is refused, never collapsed."""
    if problem := name_problem(relpath):
        raise ValueError(f"{shown(relpath)}: {problem}")
    parts = relpath.split("/")
    if len(parts) != 4:
        raise ValueError(
            f"{shown(relpath)}: expected <marketplace>/<category>/<region>/<file>, "
            f"got {len(parts) - 1} folder level(s)"
        )
    marketplace, category, region, _ = parts
    if not all(parts[:3]):
        raise ValueError(f"{shown(relpath)}: an empty folder name in the path")
    try:
        return JobContext(marketplace=marketplace, category=category, region=region, tier=tier)
    except ValidationError as exc:
        raise ValueError(f"{shown(relpath)}: {exc.errors()[0]['msg']}") from None


def _folder_token(rel_dir: str, inodes: tuple[int, ...]) -> str:
    return hashlib.sha256(_raw(f"{rel_dir}|{':'.join(map(str, inodes))}")).hexdigest()[:16]


def scan_landing(root: Path | str, *, unusable: bool = False) -> Iterator[LandedFile]:
    """Every regular, non-temporary file under ``root``, in name order; links are never followed.

    ``unusable=True`` (the sensor, which reports them) also yields each symbolic link (to a file
    or a folder) and special file, with its ``problem``. An entry vanishing mid-scan is skipped,
    so is a sub-folder that cannot be listed; ``OSError`` if ``root`` itself cannot be listed."""
    root = Path(root)
    if not root.is_dir():
        return
    entries = _scan_folder(root, "", (), top=True)
    yield from (entries if unusable else (f for f in entries if f.problem is None))


def _scan_folder(folder: Path, rel_dir: str, inodes: tuple[int, ...], *, top: bool = False) -> Iterator[LandedFile]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        if top:
            raise
        return
    token = _folder_token(rel_dir, inodes)
    for entry in entries:
        relpath = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            if not entry.name.startswith("."):
                yield from _scan_folder(Path(entry.path), relpath, (*inodes, st.st_ino))
            continue
        if is_temporary(entry.name):
            continue
        problem = None
        if stat.S_ISLNK(st.st_mode):
            problem = "a symbolic link; landing never follows links (put the file itself here)"
        elif not stat.S_ISREG(st.st_mode):
            problem = "not a regular file"
        yield LandedFile(relpath=relpath, path=Path(entry.path), size=st.st_size, mtime_ns=st.st_mtime_ns,
                         changed_ns=st.st_ctime_ns, folder=token, problem=problem)
