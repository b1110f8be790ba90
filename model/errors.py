"""The one base of every error this project raises on purpose, so a CLI or a page can catch them all.

Each error says in one sentence what is wrong and carries ``fix``: what the user should do next (a command,
a file to choose again). Callers show ``str(err)``, which already ends with the fix when one is given, and
never a traceback.

Example::

    >>> err = MriExplainError("The split manifest is missing.", fix="run python -m model.data split")
    >>> str(err)
    'The split manifest is missing. Fix: run python -m model.data split'
"""

from __future__ import annotations


class MriExplainError(Exception):
    """An expected failure with a plain message and, where one exists, the fix.

    Args:
        message: one sentence for the user, naming what is wrong.
        fix: what to do about it; appended to ``str(err)`` as ``" Fix: ..."`` when not already there.
    """

    def __init__(self, message: str = "", *, fix: str = "") -> None:
        self.message = message
        self.fix = fix
        super().__init__(message if not fix or fix in message else f"{message} Fix: {fix}")
