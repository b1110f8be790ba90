"""Untrusted text on its way out of the app: into Streamlit markdown, or into a downloaded CSV.

Everything the user or a file controls (upload names, case paths from ``?case=`` or a predictions file, the
sidebar's folder and model fields, evaluation names, error messages that quote any of these) goes through
:func:`plain` before it is put into ``st.markdown``, ``st.info`` / ``st.warning`` / ``st.error``, captions or
any other element that renders markdown. Tables for download go through :func:`csv_text`.
"""

from __future__ import annotations

import string

import pandas as pd

# Markdown (CommonMark, GFM, Streamlit's directives and math) is driven by ASCII punctuation only; a backslash
# makes any of them a literal character.
_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in string.punctuation})
# Line breaks would start new blocks (lists, headings, quotes) in the middle of a message.
_CONTROL = str.maketrans({c: " " for c in map(chr, [*range(32), 127])})
MAX_PLAIN_CHARS = 600  # a 5000-character field is quoted by its start, not in full
# Spreadsheets run cells starting with these as formulas (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def plain(text: object, max_chars: int = MAX_PLAIN_CHARS) -> str:
    """``text`` as markdown that renders as exactly this text: no emphasis, code, link, image or HTML.

    Args:
        text: any value; its ``str()`` is used.
        max_chars: longer text is cut and ends in "…".

    Returns:
        The text with control characters replaced by spaces and every ASCII punctuation mark escaped.
    """
    value = str(text).translate(_CONTROL)
    if len(value) > max_chars:
        value = value[:max_chars] + "…"
    return value.translate(_MARKDOWN_ESCAPES)


def neutralise_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'`` (shown as text); others
    unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (no index), every text cell and header passed through :func:`neutralise_cell`."""
    safe = frame.map(neutralise_cell)
    safe.columns = [neutralise_cell(str(c)) for c in frame.columns]
    return safe.to_csv(index=False)
