"""Atomic writes and versioned JSON: the only file-writing helpers of the project.

Every file a stage saves goes through :func:`atomic_write` (directly or through :func:`write_text`,
:func:`write_json` or :func:`write_csv`): the bytes go to a hidden temp file ``.<name>.<pid>.tmp`` in the same
folder, are fsynced and renamed over the old file (``os.replace``), so a reader sees the old file or the new
one, never half of one. Versioned JSON is indented by two spaces, newline-terminated, and stores undefined
numbers (NaN, +-Inf) as ``null`` (:func:`nan_to_null`); readers map them back with :func:`null_to_nan`.

Example::

    import json
    import math
    import tempfile
    from pathlib import Path

    from model.io import null_to_nan, schema_version_problem, write_json

    out = Path(tempfile.mkdtemp()) / "eval"  # e.g. artifacts/eval
    path = write_json(out / "calibration.json", {"schema_version": 1, "temperature": 1.07, "nll": math.nan})
    data = json.loads(path.read_text(encoding="utf-8"))  # the NaN was stored as null
    if problem := schema_version_problem(data, 1, path):
        raise ValueError(problem)  # a real reader raises its own error and names the fix
    print(null_to_nan(data))  # {'schema_version': 1, 'temperature': 1.07, 'nll': nan}
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

import pandas as pd


def nan_to_null(obj: object) -> object:
    """A copy of ``obj`` with every non-finite float (NaN, +-Inf) replaced by None, tuples as lists.

    Args:
        obj: a JSON-like value (dicts, lists, tuples, numbers, strings, None).

    Returns:
        The same structure, strict-JSON serialisable where ``obj`` was JSON-like.
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: nan_to_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nan_to_null(v) for v in obj]
    return obj


def null_to_nan(obj: object) -> object:
    """The inverse of :func:`nan_to_null` for numbers read back from a file: every None becomes NaN.

    Args:
        obj: a parsed JSON value whose nulls stand for undefined numbers.

    Returns:
        The same structure with NaN in place of each None.
    """
    if obj is None:
        return math.nan
    if isinstance(obj, dict):
        return {k: null_to_nan(v) for k, v in obj.items()}
    return [null_to_nan(v) for v in obj] if isinstance(obj, list) else obj


def json_bytes(obj: object) -> bytes:
    """Versioned-JSON bytes as every artifact is written: NaN as null, indented by 2, newline-terminated.

    Args:
        obj: a JSON-like value.

    Returns:
        UTF-8 bytes.

    Raises:
        TypeError: ``obj`` holds a value JSON cannot represent.
    """
    return (json.dumps(nan_to_null(obj), indent=2, allow_nan=False) + "\n").encode("utf-8")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as UTF-8 CSV without its index, "\\n" line ends (identical bytes for identical frames).

    Args:
        frame: the table; floats are written by pandas in round-trip precision.

    Returns:
        UTF-8 bytes.
    """
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def schema_version_problem(data: object, expected: int, where: str | Path) -> str | None:
    """Why ``data`` is not versioned JSON of schema ``expected``, or None when it is.

    Args:
        data: the parsed file.
        expected: the schema version this code reads.
        where: the file, named in the message.

    Returns:
        None, or a message such as "PATH has schema version 2, this code reads 1" (the caller adds the fix
        and raises its own error).
    """
    found = data.get("schema_version") if isinstance(data, dict) else None
    # bool is an int in Python (True == 1): a boolean version is refused.
    if isinstance(found, int) and not isinstance(found, bool) and found == expected:
        return None
    return f"{where} has schema version {found!r:.20}, this code reads {expected}"


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 probes without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # gone, or not a valid pid at all
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temps(directory: str | Path) -> list[Path]:
    """Delete the hidden ``.<file>.<pid>.tmp`` files of writes that were killed; keep those of live writers.

    Readers never look at these files (names starting with "." are skipped), so a stale one is harmless
    until this runs at the start of the next write into the folder.

    Args:
        directory: the folder to clean.

    Returns:
        The files removed.
    """
    removed = []
    for tmp in Path(directory).glob(".*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _process_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def fsync_dir(directory: str | Path) -> None:
    """Flush a folder's entries (the renames into it) to disk.

    Args:
        directory: an existing folder.
    """
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(final: str | Path, data: bytes) -> Path:
    """Stage ``data`` for ``final``: a complete, fsynced hidden temp file beside it, to ``os.replace`` later.

    For writers that commit several files in a chosen order (e.g. the saved-evaluation pair).

    Args:
        final: the file the temp file will replace.
        data: its bytes.

    Returns:
        The temp file ``.<name>.<pid>.tmp``.
    """
    final = Path(final)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def atomic_write(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically (temp file in the same folder, fsync, ``os.replace``).

    Args:
        path: the file; its folder is created.
        data: the bytes to store.

    Returns:
        ``path`` as a Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent)
    os.replace(write_temp(path, data), path)
    fsync_dir(path.parent)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Replace ``path`` atomically with ``text`` encoded as UTF-8 (line ends as given).

    Args:
        path: the file; its folder is created.
        text: the content.

    Returns:
        ``path`` as a Path.
    """
    return atomic_write(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: object) -> Path:
    """Replace ``path`` atomically with ``obj`` as versioned JSON (:func:`json_bytes`).

    Args:
        path: the file; its folder is created.
        obj: a JSON-like value.

    Returns:
        ``path`` as a Path.
    """
    return atomic_write(path, json_bytes(obj))


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """Replace ``path`` atomically with ``frame`` as CSV (:func:`csv_bytes`).

    Args:
        path: the file; its folder is created.
        frame: the table.

    Returns:
        ``path`` as a Path.
    """
    return atomic_write(path, csv_bytes(frame))
