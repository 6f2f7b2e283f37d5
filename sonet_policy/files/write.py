"""Writing files: every file the kit writes goes through this module, and so does what it refuses to write.

* **Never the baseline.** The rule folder (``data/rules``), the page (``data/source``) and the catalogue
  (``data/devices.csv``) are refused however the path is spelled: ``..``, a symlinked folder, a bind mount
  (folders and files are compared by device and inode, never by name). ``build-devices`` is the one command
  that rebuilds the catalogue (``allow=DEVICES_CSV``).
* **Never the rule book in use.** A command given ``--rules FOLDER`` reads that folder: it does not write its
  output inside it either (:func:`rules_in_use`, same device-and-inode check). A proposal's own save writes
  into its folder on purpose (``allow=`` the folder).
* **Never replace what was not asked for.** ``-`` is standard output. A FIFO or a character device
  (``/dev/null``) is written directly, never renamed over; a FIFO nobody reads is an error, not a hang. A
  symlink is written through to the regular file it names (as git does), never replaced; a dangling symlink,
  a folder, a block device or a socket is refused.
* **Atomic, with the old permissions.** A regular file is written to a temporary file beside it, flushed to
  disk, and renamed over the target only when complete; the new file keeps the old one's mode and, where the
  writer may set them, its owner and group. A file the writer may not write (read-only for it) is refused,
  as the shell's ``>`` would.
* **One line when it fails.** :class:`TargetError` (a target the kit will not write: exit 2),
  :class:`BaselineWriteError` (exit 2) and :class:`OutputError` (the disk is full, permission denied: exit 1)
  each say which path and what to do.
* **Formulas are neutralised** in what people open in a spreadsheet (:mod:`sonet_policy.files.guard`, the one
  rule), unless raw text is asked for.
* **Signals** (:func:`signals_raise`): SIGTERM and SIGHUP raise :class:`Interrupted` (as Ctrl-C raises
  KeyboardInterrupt), so the temporary file is removed and the old output stays as it was.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pandas as pd

from sonet_policy.errors import BaselineWriteError, Interrupted, OutputError, TargetError
from sonet_policy.files.guard import neutralise_frame
from sonet_policy.paths import DEVICES_CSV, RULES_DIR, SOURCE_DIR

STDOUT = "-"


_HINTS = {
    errno.ENOSPC: "the disk is full; free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
    errno.EFBIG: "the file is larger than this file system allows; write elsewhere",
    errno.EROFS: "the file system is read-only; write elsewhere",
    errno.EACCES: "permission denied; write into a folder you may write, or ask its owner",
    errno.EPERM: "operation not permitted (an immutable file, or owned by someone else); write elsewhere",
    errno.ENXIO: "no process is reading this FIFO; start the reader first",
    errno.EPIPE: "the reader closed the pipe",
}
# errors that can only come from writing: attributed to the output even when the caller's code raised them
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def _output_error(path: object, exc: OSError) -> OutputError:
    reason = _HINTS.get(exc.errno or 0, exc.strerror or str(exc))
    return OutputError(path, exc.errno, reason)


# ---------------------------------------------------------------- the baseline ----


def _identity(path: Path | str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


_IN_USE: list[Path] = []  # the --rules folders of the running command (rules_in_use)
IN_USE = "the rule book in use (--rules)"


def protected() -> list[tuple[str, Path]]:
    """The baseline the kit never writes: ``(what, path)`` for the rule folder, the page folder, the catalogue;
    then the rule book folder a command reads (:func:`rules_in_use`), while it runs.

    >>> [what for what, _ in protected()]
    ['the baseline rule book', 'the source page and its clauses', 'the device catalogue']
    """
    return [
        ("the baseline rule book", RULES_DIR),
        ("the source page and its clauses", SOURCE_DIR),
        ("the device catalogue", DEVICES_CSV),
        *((IN_USE, folder) for folder in _IN_USE),
    ]


@contextmanager
def rules_in_use(folder: Path | str | None) -> Iterator[None]:
    """While the block runs, refuse writes inside rule book ``folder`` (the ``--rules`` of a command: its output
    must not land among the tables it reads); None: nothing more is refused. Raises nothing itself; a refused
    write raises :class:`BaselineWriteError` naming the folder.

    >>> import tempfile, pathlib
    >>> book = pathlib.Path(tempfile.mkdtemp())
    >>> with rules_in_use(book):
    ...     refuse_protected(book / "answers.csv")
    Traceback (most recent call last):
    ...
    sonet_policy.errors.BaselineWriteError: refusing to write ... it is in the rule book in use (--rules) ...
    """
    if folder is None or not Path(folder).is_dir():
        yield
        return
    _IN_USE.append(Path(folder))
    try:
        yield
    finally:
        _IN_USE.remove(Path(folder))


def refuse_protected(target: Path | str, *, allow: Path | str | None = None) -> Path:
    """Return ``target`` with links and ``..`` resolved, or raise :class:`BaselineWriteError` when writing it
    would write the baseline (see :func:`protected`).

    The target, each of its folders and the baseline are compared by (device, inode), so a bind mount or a
    symlinked folder is caught as well as ``..``. ``allow`` names the one protected file a caller may write
    (``build-devices`` rebuilding the catalogue), or the rule book in use it writes on purpose (a proposal's save).

    >>> refuse_protected(RULES_DIR / ".." / "rules" / "wifi.csv")
    Traceback (most recent call last):
    ...
    sonet_policy.errors.BaselineWriteError: refusing to write ... it is in the baseline rule book ...
    """
    real = Path(os.path.realpath(os.fspath(target)))
    folders: dict[tuple[int, int], tuple[str, Path]] = {}
    files: dict[tuple[int, int], tuple[str, Path]] = {}
    places: dict[tuple[tuple[int, int], str], tuple[str, Path]] = {}  # (folder identity, name): a file not there
    for what, path in protected():
        ident = _identity(path)
        if path.suffix and what != IN_USE:  # a file (a --rules folder may be named like one.v2)
            if allow is not None and os.path.realpath(allow) == os.path.realpath(path):
                continue  # the one protected file this caller writes
            parent = _identity(path.parent)
            if parent is not None:
                places[(parent, path.name)] = (what, path)
            if ident is not None:
                files[ident] = (what, path)
        elif ident is not None:
            if what == IN_USE and allow is not None and _identity(allow) == ident:
                continue  # a proposal saving into its own folder
            folders[ident] = (what, path)
    hit = files.get(_identity(real)) if real.exists() else None
    parent = _identity(real.parent)
    hit = hit or (places.get((parent, real.name)) if parent is not None else None)
    for folder in (real, *real.parents):
        hit = hit or folders.get(_identity(folder))
    if hit:
        what, path = hit
        if what == IN_USE:
            raise BaselineWriteError(
                f"refusing to write {target}: it is in {what} ({path}), which this command reads; write elsewhere"
            )
        raise BaselineWriteError(
            f"refusing to write {target}: it is in {what} ({path}), which is never modified; write elsewhere "
            "(a what-if is a proposal: python -m sonet_policy proposal new NAME)"
        )
    return real


# ---------------------------------------------------------------- targets ----


def _kind(path: Path | str) -> str:
    """``stdout``, ``special`` (FIFO, character device), ``regular`` or ``new``; raises TargetError otherwise."""
    text = os.fspath(path)
    if text == "":
        raise TargetError("the output path is empty; name a file, or - for standard output", path=text)
    if text == STDOUT:
        return "stdout"
    if text.endswith(("/", os.sep, "/.", "/..")) or text in (".", ".."):
        raise TargetError(f"{text} names a folder; give a file name inside it", path=text)
    if "\0" in text:
        raise TargetError(f"{text!r} holds a NUL character; no file can have that name", path=text)
    try:
        st = os.stat(text)  # follows symlinks
    except FileNotFoundError:
        if os.path.islink(text):
            raise TargetError(
                f"{text} is a symlink to {os.readlink(text)}, which does not exist; write to a file that exists "
                "through the link, or remove the link",
                path=text,
            ) from None
        for folder in Path(os.path.abspath(text)).parents:
            if folder.exists():
                if not folder.is_dir():
                    raise TargetError(
                        f"{text}: {folder} is a file, not a folder; choose another path", path=text
                    ) from None
                break
        return "new"
    except NotADirectoryError:
        folder = next((p for p in Path(os.path.abspath(text)).parents if p.exists() and not p.is_dir()), None)
        raise TargetError(
            f"{text}: {folder or 'a folder on the path'} is a file, not a folder; choose another path", path=text
        ) from None
    except OSError as exc:
        raise _output_error(text, exc) from exc
    if stat.S_ISREG(st.st_mode):
        return "regular"
    if stat.S_ISDIR(st.st_mode):
        raise TargetError(f"{text} is a folder; give a file name inside it", path=text)
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return "special"
    kind = "a block device" if stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "special"
    raise TargetError(
        f"{text} is {kind}; the kit writes regular files, FIFOs, character devices or - (standard output)",
        path=text,
    )


def _umask() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # read it (not thread-safe; only where /proc is absent)
    os.umask(mask)
    return mask


def _keep_permissions(fd: int, old: os.stat_result | None) -> None:
    """Give the temporary file the old file's mode and owner (where allowed), or the usual mode for a new file."""
    if old is None:
        os.fchmod(fd, 0o666 & ~_umask())
        return
    for uid, gid in ((old.st_uid, old.st_gid), (-1, old.st_gid)):
        try:
            os.fchown(fd, uid, gid)  # root may give the file back to its owner; others keep their group at most
            break
        except OSError:
            continue
    os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after chown, which may clear set-id bits


@contextmanager
def _atomic(path: Path | str, *, allow: Path | str | None) -> Iterator[tuple[Path, int]]:
    """Yield ``(temporary path, fd)`` beside the real target; rename it over the target when the body ends."""
    kind = _kind(path)
    real = refuse_protected(path, allow=allow)
    old = None
    if kind == "regular":
        old = os.stat(real)
        if not os.access(real, os.W_OK):
            raise OutputError(path, errno.EACCES, "the file is read-only for you; make it writable or write elsewhere")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        # the name is cut so that a target whose name is near the 255-byte limit still gets a temporary file
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name[:100]}.", suffix=".tmp", dir=real.parent)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    try:
        try:
            _keep_permissions(fd, old)
        except OSError as exc:
            raise _output_error(path, exc) from exc
        yield Path(tmp), fd
        raise_if_interrupted()  # a signal whose exception some library swallowed still stops the rename
        try:
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.replace(tmp, real)
        except OSError as exc:
            raise _output_error(path, exc) from exc
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, (OutputError, BaselineWriteError)) or exc.errno not in _WRITE_ERRNOS:
            raise
        raise _output_error(path, exc) from exc
    except BaseException:
        if fd >= 0:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise


def _open_special(path: Path | str) -> int:
    """Open a FIFO or a character device for writing without blocking on a FIFO that nobody reads."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    os.set_blocking(fd, True)
    return fd


@contextmanager
def open_output(
    path: Path | str,
    *,
    binary: bool = False,
    encoding: str = "utf-8",
    newline: str | None = "",
    allow: Path | str | None = None,
) -> Iterator[IO]:
    """A handle to write ``path``; what is written becomes ``path`` only when the ``with`` block ends well.

    ``-`` is standard output; a FIFO or a character device is written directly; any other target is a
    temporary file renamed over it at the end (an error, Ctrl-C or a signal turned into an exception leaves any
    earlier file as it was). Raises :class:`TargetError`, :class:`BaselineWriteError` (before anything is
    written) or :class:`OutputError`.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with open_output(target) as out:
    ...     _ = out.write("done\\n")
    >>> target.read_text()
    'done\\n'
    """
    mode = "wb" if binary else "w"
    text = {} if binary else {"encoding": encoding, "newline": newline}
    kind = _kind(path)
    if kind in ("stdout", "special"):
        if kind == "stdout":
            if sys.stdout is None:  # started with standard output closed (>&-)
                raise OutputError("standard output", errno.EBADF, "standard output is closed; give --output a file")
            sys.stdout.flush()
            try:
                fileno = sys.stdout.fileno()
            except (AttributeError, ValueError, OSError):  # a notebook's stdout has no file descriptor
                yield sys.stdout.buffer if binary else sys.stdout
                return
            handle = open(fileno, mode, closefd=False, **text)  # noqa: SIM115
        else:
            refuse_protected(path, allow=allow)
            handle = open(_open_special(path), mode, **text)  # noqa: SIM115
        try:
            with handle:
                yield handle
        except OSError as exc:
            if isinstance(exc, (OutputError, BaselineWriteError)) or exc.errno not in (*_WRITE_ERRNOS, errno.EPIPE):
                raise
            if exc.errno == errno.EPIPE:
                raise BrokenPipeError(errno.EPIPE, "the reader closed the pipe") from exc
            raise _output_error(path, exc) from exc
        return
    with _atomic(path, allow=allow) as (_tmp, fd):
        handle = open(fd, mode, closefd=False, **text)  # noqa: SIM115
        with handle:
            yield handle


def write_atomically(path: Path | str, write: Callable[[Path], None], *, allow: Path | str | None = None) -> None:
    """Have ``write(tmp)`` write a file at the path it is given, then make it ``path`` (see :func:`open_output`).

    For a regular target ``tmp`` is a temporary file beside it, renamed over it when ``write`` returns; for
    ``-``, a FIFO or a character device ``tmp`` is a private temporary file whose bytes are then copied to the
    target. Raises what :func:`open_output` raises.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
    >>> write_atomically(target, lambda tmp: tmp.write_text("a,b\\n"))
    >>> target.read_text()
    'a,b\\n'
    """
    if _kind(path) in ("stdout", "special"):
        with tempfile.TemporaryDirectory(prefix="sonet-") as folder:
            tmp = Path(folder) / "out"
            write(tmp)
            with open(tmp, "rb") as src, open_output(path, binary=True, allow=allow) as out:
                shutil.copyfileobj(src, out)
        return
    with _atomic(path, allow=allow) as (tmp, _fd):
        write(tmp)


def write_back_soon(handle: IO) -> None:
    """Have the kernel start writing what ``handle`` holds to disk now, without waiting for it: a long output
    written in parts then has little left for the flush to disk before the rename (:func:`open_output`). Only a
    regular file, only where the system can (``posix_fadvise``); otherwise nothing happens.

    >>> import tempfile
    >>> with tempfile.TemporaryFile() as handle:
    ...     _ = handle.write(b"answers")
    ...     write_back_soon(handle)
    """
    advise = getattr(os, "posix_fadvise", None)
    try:
        handle.flush()
        fd = handle.fileno()
        if advise is not None and stat.S_ISREG(os.fstat(fd).st_mode):
            advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # Linux: starts the writeback of the dirty pages
    except (OSError, ValueError, AttributeError):  # a closed file, a notebook's stdout: nothing to start
        pass


# ---------------------------------------------------------------- tables for people ----


def write_csv(
    path: Path | str, frame: pd.DataFrame, *, raw: bool = False, bom: bool = False, lineterminator: str = "\r\n"
) -> None:
    """Write ``frame`` as a CSV for people (UTF-8, ``bom`` for Excel) through :func:`open_output`; formulas are
    neutralised (:func:`sonet_policy.files.guard.neutralise_frame`) unless ``raw``.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
    >>> write_csv(target, pd.DataFrame({"memo": ["=1+1"]}), lineterminator="\\n")
    >>> target.read_text()
    "memo\\n'=1+1\\n"
    """
    frame = frame if raw else neutralise_frame(frame)
    with open_output(path, encoding="utf-8-sig" if bom else "utf-8") as out:
        frame.to_csv(out, index=False, lineterminator=lineterminator)


# ---------------------------------------------------------------- signals ----


# The signals received within :func:`signals_raise`. The handler raises where the main thread happens to be; code
# that swallows every exception (a C extension clearing errors while it calls Python, seen in pandas under load)
# can lose it, so the file writers check this list before they commit (:func:`raise_if_interrupted`).
_received: list[int] = []


def raise_if_interrupted() -> None:
    """Raise :class:`Interrupted` if a termination signal arrived within :func:`signals_raise`, even one whose
    exception was swallowed on the way: called before a temporary file becomes the output, and per batch.

    >>> raise_if_interrupted()  # nothing received
    """
    if _received:
        _raise(_received[0])


def _raise(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(signum)


@contextmanager
def signals_raise(signums: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP)) -> Iterator[None]:
    """Within the block, the signals ``signums`` raise :class:`Interrupted` (only in the main thread; a signal
    that is ignored, as under ``nohup``, stays ignored). The first signal also makes the next ones wait, so
    the cleanup is not interrupted in turn. The old handlers are restored afterwards.

    >>> with signals_raise():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, object] = {}

    def handler(signum: int, _frame: object) -> None:
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        _received.append(signum)
        _raise(signum)

    def interrupt(signum: int, _frame: object) -> None:  # Ctrl-C stays KeyboardInterrupt, and is recorded too
        _received.append(signum)
        raise KeyboardInterrupt

    _received.clear()
    for s in signums:
        if signal.getsignal(s) == signal.SIG_IGN:
            continue
        previous[s] = signal.signal(s, handler)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous_int = signal.signal(signal.SIGINT, interrupt)
    else:
        previous_int = None
    # pyarrow's readers catch SIGINT and SIGTERM themselves while they run (to cancel, then re-send the signal);
    # within the block the handler above is the only one: a signal is handled as soon as pyarrow returns.
    import pyarrow as pa

    pa.enable_signal_handlers(False)
    try:
        yield
    finally:
        pa.enable_signal_handlers(True)
        for s, old in previous.items():
            signal.signal(s, old)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)
        _received.clear()
