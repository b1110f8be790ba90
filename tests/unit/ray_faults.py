"""A model actor that dies once, for the Ray engine's retry tests (a module of its own: Ray's workers import
it by its dotted name, which a pytest test module does not have)."""

from __future__ import annotations

import os
from pathlib import Path


class CrashOnce:
    """Mixin for a model actor: on ``CRASH_INDEX`` the first time (no marker file yet) its process dies."""

    MARKER = ""
    CRASH_INDEX = 1

    def __call__(self, batch: dict) -> dict:
        marker = Path(self.MARKER)
        if self.CRASH_INDEX in [int(i) for i in batch["index"]] and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)  # a killed worker: no exception, no clean-up
        return super().__call__(batch)


def crash_once(base: type, marker: Path, index: int) -> type:
    """``base`` with :class:`CrashOnce` on record ``index``, the marker file at ``marker``."""
    return type(f"CrashOnce{base.__name__}", (CrashOnce, base), {"MARKER": str(marker), "CRASH_INDEX": index})
