"""Untrusted text on its way out of the app: into Streamlit markdown, or into a downloaded CSV.

Everything the user or a file controls (upload names, case paths from ``?case=`` or a predictions file, the
sidebar's folder and model fields, evaluation names, error messages that quote any of these) goes through
:func:`plain` before it is put into ``st.markdown``, ``st.info`` / ``st.warning`` / ``st.error``, captions or
any other element that renders markdown. Tables for download go through :func:`csv_text`.
"""

from __future__ import annotations

import re

import pandas as pd

# The characters that start markdown syntax mid-line: emphasis, code, links and images ([ and <), HTML and
# entities, headings, tables, strikethrough, Streamlit's :directives[...] and :icons:, $math$. A backslash
# makes each one literal. "-", ".", "/", "(" and ")" stay as they are (harmless without "[" or a line start),
# so paths and commands read the same in the source; line starts are handled by _BLOCK_START.
MARKDOWN_ACTIVE = "\\`*{}[]<>#+!|~$:@&"
_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in MARKDOWN_ACTIVE})
_BLOCK_START = re.compile(r"^(\s*)(-|\d+[.)])")  # a list item if the text starts a block
# GFM turns "www.x", "https://x" and "a@b.c" into links even when escaped (Streamlit autolinks the rendered
# text; tests/e2e/test_browser_hostile.py saw it), so an invisible WORD JOINER breaks each trigger instead.
WORD_JOINER = "\u2060"
_AUTOLINK_TRIGGERS = re.compile(r"(?i)(?<=www)(?=\.)|(?<=:)(?=//)|(?=@)")
# "_" emphasises only next to a non-alphanumeric character; inside names (explain_batch, tmp_path) it is text.
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
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
        The text on one line (control characters become spaces) with :data:`MARKDOWN_ACTIVE` characters,
        "_" outside words and a leading list marker backslash-escaped, and a WORD JOINER (invisible) after
        "www", between ":" and "//" and before "@".
    """
    value = str(text).translate(_CONTROL)
    if len(value) > max_chars:
        value = value[:max_chars] + "…"
    value = _AUTOLINK_TRIGGERS.sub(WORD_JOINER, value)
    value = _EMPHASIS_UNDERSCORE.sub(r"\\_", value.translate(_MARKDOWN_ESCAPES))
    return _BLOCK_START.sub(
        lambda m: m.group(1) + "".join("\\" + c if not c.isdigit() else c for c in m.group(2)), value
    )


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
    return safe.to_csv(index=False, lineterminator="\r\n")  # RFC 4180: cells holding CR or LF get quoted
