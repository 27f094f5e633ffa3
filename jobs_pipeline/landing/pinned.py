"""Reading a landed file as the sensor saw it: a regular file under the landing folder, reached
without following any link, and read from that one open file however the path changes later.

The sensor lists links and special files as unusable, but a run starts seconds to minutes after
the listing. Whoever can write to the landing folder could, in between, replace the file (or a
folder on its way) by a symbolic link to a file only the worker may read, and the validator
would report on that file's contents. So the run opens the file once, from the landing root
down, each component with ``O_NOFOLLOW``, checks it is a regular file, and the validator reads
that open file through a link in a private folder to ``/proc/self/fd/N`` (which names the open
file, not a path): a later swap changes nothing, and the link keeps the feed's name, so messages
and format sniffing by suffix are unchanged. A failure becomes the job's typed
:class:`LandedLinkError` through ``JobService.run`` (a ``job.failed`` event), as
:mod:`.feed_fetch` does for a failed download.

Paths outside the landing folder (a launchpad run on some other file, the CLI) are the
operator's own choice and are read as given. Without ``/proc/self/fd`` (not Linux) the file is
still opened and checked this way, then read by its path: the swap window narrows to the run.
"""

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from jobs_pipeline.domain.errors import FeedFormatError, FeedNotFoundError, LandedLinkError
from jobs_pipeline.domain.model import ValidationJob
from jobs_pipeline.landing.feed_fetch import failing_validator
from jobs_pipeline.storage.uri import is_s3_uri

FD_FOLDER = Path("/proc/self/fd")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO planted there must not hang the run; a regular file ignores it.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def under_landing(path: Path | str, landing_dir: Path | str) -> Path | None:
    """``path`` relative to the landing folder when it lies there (judged on the text of the
    path, never by following it), else ``None``."""
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(landing_dir))
    if path == root or not path.is_relative_to(root):
        return None
    return path.relative_to(root)


def open_landed(landing_dir: Path | str, relative: Path) -> int:
    """An open, read-only descriptor of the regular file ``landing_dir/relative``; no link is
    followed below ``landing_dir``. Raises :class:`LandedLinkError`, :class:`FeedNotFoundError`, or
    :class:`FeedFormatError` for a file it may not read (as :func:`.plain_feed` would)."""
    shown = relative.as_posix()
    if any(part in ("", ".", "..") for part in relative.parts):
        raise LandedLinkError(f"{shown}: not a plain path under the landing folder")
    try:  # the landing folder itself may be a link (an operator's choice, resolved in settings)
        fd = os.open(landing_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FeedNotFoundError(f"feed not found: {shown} (the landing folder {landing_dir} is gone)") from None
    try:
        for part in relative.parts[:-1]:
            fd = _step(fd, part, _DIR_FLAGS, shown)
        fd = _step(fd, relative.parts[-1], _FILE_FLAGS, shown)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LandedLinkError(f"{shown}: not a regular file (landing takes plain files only)")
        return fd
    except BaseException:
        os.close(fd)
        raise


def _step(parent: int, name: str, flags: int, shown: str) -> int:
    """Open ``name`` in the folder ``parent``, then close ``parent`` (left open on failure)."""
    try:
        child = os.open(name, flags, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise LandedLinkError(f"{shown}: a symbolic link, or a path through one (or through a file); "
                                  "landing never follows links (put the file itself here)") from None
        if exc.errno == errno.ENOENT:
            raise FeedNotFoundError(f"feed not found: {shown} (moved or deleted since it landed)") from None
        if exc.errno in (errno.EACCES, errno.EPERM):  # as plain_feed says it of any unreadable feed
            raise FeedFormatError(f"{Path(shown).name}: cannot be read ({exc.strerror or 'permission denied'})") from None
        raise
    os.close(parent)
    return child


@contextmanager
def pinned_feed(job: ValidationJob, service: Any, landing_dir: Path | str) -> Iterator[ValidationJob]:
    """Yield the job to run: ``job`` itself for a feed outside the landing folder, else a copy
    whose ``feed_uri`` reads the landed file opened here. An unsafe or vanished file makes
    ``service``'s validator raise its error, so ``JobService.run`` reports it as ``job.failed``
    (with a ``feed_uri`` naming nothing: the caller keeps the original job for its outcome)."""
    relative = None if is_s3_uri(job.feed_uri) else under_landing(job.feed_uri, landing_dir)
    if relative is None:
        yield job
        return
    with ExitStack() as cleanup:
        folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="landed-")))
        private = folder / relative.name  # nothing but this process can change what it names
        try:
            fd = open_landed(landing_dir, relative)
        except (FeedNotFoundError, FeedFormatError, OSError) as exc:
            # Nothing there to measure either: the job's size is not that of a link's target.
            service.validator = failing_validator(exc)
            yield job.model_copy(update={"feed_uri": str(private)})
            return
        cleanup.callback(os.close, fd)
        if not FD_FOLDER.is_dir():
            yield job
            return
        private.symlink_to(FD_FOLDER / str(fd))
        yield job.model_copy(update={"feed_uri": str(private)})
