"""Reading a case by its path relative to the data folder, confined to that folder.

Case paths arrive from places a user or a file controls: ``?case=`` links, the Explain page's case box, the
Error audit's hand-over and the ``path`` column of a predictions file. :func:`read_case` accepts only a
relative path that stays inside the data folder after every symlink is resolved, and answers every refusal
(missing, unreadable, not a file, outside the folder, malformed) with the same sentence, so the answers do not
reveal which files exist elsewhere.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from model.data.scan import MAX_FILE_BYTES
from model.errors import MriExplainError
from model.loading import path_text_problem


class CaseFileError(MriExplainError, ValueError):
    """A case path does not name a readable file inside the data folder (one message for every reason)."""


def case_error(case: str) -> CaseFileError:
    """The one refusal for ``case`` (the caller escapes it before showing it as markdown)."""
    shown = case if len(case) <= 120 else case[:120] + "…"
    return CaseFileError(
        f"Case '{shown}' is not a readable file inside the data folder; check that the data folder is the "
        "one the evaluation was made on."
    )


def resolve_case(data_dir: str | Path, case: str) -> Path:
    """The file a data-root-relative ``case`` path names, after checking it stays inside ``data_dir``.

    Args:
        data_dir: the configured data folder.
        case: a path as in ``{split}_predictions.csv``, e.g. ``yes/Y1.jpg`` (POSIX separators).

    Returns:
        The resolved path of an existing regular file inside the resolved ``data_dir``.

    Raises:
        CaseFileError: empty, absolute, with ``..``, a backslash or control characters, too long, outside
            the folder (also through a symlink), missing, or not a regular file.
    """
    if not isinstance(case, str) or not case or path_text_problem(case) or "\\" in case:
        raise case_error(str(case))
    pure = PurePosixPath(case)
    if pure.is_absolute() or ".." in pure.parts or path_text_problem(str(data_dir)):
        raise case_error(case)
    try:
        root = Path(data_dir).resolve()
        target = (root / pure).resolve()
        if not (target.is_relative_to(root) and target.is_file()):
            raise case_error(case)
    except OSError as err:
        raise case_error(case) from err
    return target


def read_case(data_dir: str | Path, case: str) -> bytes:
    """The bytes of a case file (at most ``MAX_FILE_BYTES + 1``: ``load_scan`` refuses larger files).

    Args:
        data_dir: the configured data folder.
        case: a data-root-relative path with POSIX separators, e.g. ``yes/Y1.jpg``.

    Returns:
        The file's raw bytes, at most ``MAX_FILE_BYTES + 1`` of them (one more tells an oversized file apart).

    Raises:
        CaseFileError: as :func:`resolve_case`, or the file cannot be read.
    """
    target = resolve_case(data_dir, case)
    try:
        with open(target, "rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise case_error(case) from err
