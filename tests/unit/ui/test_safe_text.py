"""dashboard.safe_text: untrusted text renders as itself in markdown, and CSV cells never run as formulas.

The markdown check renders with markdown-it-py (CommonMark, the parser family Streamlit's remark follows) and
asserts the output is one paragraph holding exactly the input text: no emphasis, code, link, image or HTML.
GFM's extended autolinks (``www.``, ``https://``, e-mail) are not in CommonMark, so their triggers are
checked on the escaped text itself (and in Chromium by tests/e2e/test_browser_hostile.py).
"""

from __future__ import annotations

import html
import io
import re

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from dashboard.safe_text import (
    FORMULA_PREFIXES,
    MAX_PLAIN_CHARS,
    WORD_JOINER,
    csv_text,
    neutralise_cell,
    plain,
)

HOSTILE = [
    "scan`](javascript:alert(1))`.png",
    "**bold** and __bold__ and _it_ and *it*",
    "[click here](https://evil.example/login) ![x](https://evil.example/pixel.png)",
    "<img src=https://evil.example/x.png> <b>html</b> &amp; &lt;",
    "# heading | table | ~~strike~~",
    ":red[alarm] :material/warning: $\\frac{a}{b}$",
    "- a list item",
    "12. an ordered item",
    "yes/../../etc/passwd",
    "back\\slash\\`code\\`",
    "line one\nline two\r\n> quote",
    "explain_batch tmp_path_x a_b_c",
]


def _rendered_text(markdown: str) -> str:
    out = MarkdownIt("commonmark").enable("strikethrough").enable("table").render(markdown).strip()
    match = re.fullmatch(r"<p>(.*)</p>", out, flags=re.S)
    assert match, out  # one paragraph, no list/heading/quote/table block
    inner = match.group(1)
    assert "<" not in inner.replace("&lt;", ""), inner  # no element inside it
    return html.unescape(inner)


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_renders_as_exactly_the_text(text):
    one_line = re.sub(r"[\r\n]", " ", text)
    assert _rendered_text(plain(text)).replace(WORD_JOINER, "") == one_line


@pytest.mark.parametrize("text", ["see www.evil.example", "https://evil.example/x", "me@evil.example"])
def test_plain_leaves_no_autolink_trigger(text):
    escaped = plain(text)
    assert not re.search(r"(?i)www\.|https?\\?://|\w@", escaped), escaped
    assert _rendered_text(escaped).replace(WORD_JOINER, "") == text


def test_plain_keeps_paths_and_commands_readable_and_cuts_long_text():
    assert (
        plain("run python -m model.evaluate --out artifacts/eval_dir")
        == "run python -m model.evaluate --out artifacts/eval_dir"
    )
    assert len(plain("x" * 5000)) == MAX_PLAIN_CHARS + 1 and plain("x" * 5000).endswith("…")


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_formula_cells_and_headers_are_neutralised(prefix):
    cell = f'{prefix}HYPERLINK("https://evil.example")'
    frame = pd.DataFrame({"case": [cell, "yes/Y1.jpg"], f"P({prefix}x)": [0.5, -0.25], "n": [-3, 4]})
    back = pd.read_csv(io.StringIO(csv_text(frame)), keep_default_na=False)
    assert back["case"].tolist() == ["'" + cell, "yes/Y1.jpg"]
    assert list(back.columns)[1] == f"P({prefix}x)"  # starts with "P": unchanged
    assert back.iloc[:, 1].tolist() == [0.5, -0.25] and back["n"].tolist() == [-3, 4]  # numbers stay numbers
    assert neutralise_cell(prefix + "1") == "'" + prefix + "1" and neutralise_cell(-1.0) == -1.0


def test_a_header_starting_with_a_formula_character_is_neutralised():
    text = csv_text(pd.DataFrame({"=cmd": ["a"]}))
    assert text.splitlines()[0] == "'=cmd"
