"""Text that leaves the app in a report: no local absolute path, a safe file name, a short model label.

A report is printed and passed around, so nothing in it may name a folder of the machine that made it
(``/home/alice/mri-explain/artifacts/eval``, ``C:\\Users\\bob\\scans``). :func:`scrub_paths` replaces every
absolute path in a text by ``…/<last part>``; :func:`safe_file_name` reduces an uploaded file's name to a
short, printable base name; :func:`model_label` names a model by its folder name or hub id and fingerprint.
"""

from __future__ import annotations

import re
import unicodedata

NEUTRAL_PREFIX = "…/"
MAX_FILE_NAME = 80  # characters: a longer name is cut in the middle (both ends carry the meaning)
UNNAMED = "unnamed scan"
# An absolute path: POSIX (/a/b, ~/a), Windows drive (C:\a, C:/a) or UNC (\\server\share); runs to the next
# blank, quote or bracket. Group "tail" is its last non-empty part.
_PATH = re.compile(
    r"(?<![\w.:/\\])"
    r"(?:~|[A-Za-z]:|\\\\[^\s\\/]+)?"
    r"(?:[\\/][^\s\\/'\"()\[\]<>,;]+)+[\\/]?"
)
_SEP = re.compile(r"[\\/]+")


def _tail(path: str) -> str:
    parts = [p for p in _SEP.split(path) if p and not re.fullmatch(r"[A-Za-z]:|~", p)]
    return parts[-1] if parts else ""


def scrub_paths(text: str) -> str:
    """Replace every absolute local path in ``text`` by ``…/<its last part>``.

    Args:
        text: any text (settings, notes, error messages).

    Returns:
        The text with ``/home/a/artifacts/eval`` -> ``…/eval`` and ``C:\\x\\y.png`` -> ``…/y.png``; relative
        paths (``yes/Y1.jpg``) and hub ids (``google/vit-base-patch16-224``) are left as they are.
    """

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        if not re.match(r"~|[A-Za-z]:|[\\/]", found):
            return found
        return NEUTRAL_PREFIX + _tail(found) if _tail(found) else NEUTRAL_PREFIX

    return _PATH.sub(replace, text)


def safe_file_name(name: str | None) -> str:
    """A printable base name for an uploaded or chosen file.

    Args:
        name: the name as received (may hold folders, control or bidi characters, or be empty).

    Returns:
        The last path part without control/format characters, at most :data:`MAX_FILE_NAME` characters,
        or :data:`UNNAMED`.
    """
    base = _tail(str(name or "")).strip()
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")  # Cc, Cf (bidi), Co, Cs, Cn
    if len(base) > MAX_FILE_NAME:
        half = (MAX_FILE_NAME - 1) // 2
        base = f"{base[:half]}…{base[-half:]}"
    return base or UNNAMED


def model_label(source: str, fingerprint: str) -> str:
    """``"model (weights 1a2b3c4d5e6f)"``: a folder by its last part, a hub id as it is.

    Args:
        source: local model folder or hub id.
        fingerprint: the weights fingerprint (``Classifier.fingerprint``).
    """
    text = str(source).rstrip("/\\")
    if re.match(r"~|[A-Za-z]:|[\\/]|\.", text):
        text = _tail(text) or "local model"
    return f"{text} (weights {fingerprint})"
