"""The model card as data: a preamble and a list of ``## `` sections, and the one parser of a card README.

:func:`model.evaluate.card.build_card` returns a :class:`Card`; ``write_card`` writes :meth:`Card.markdown`,
and the dashboard reads the sections back from ``README.md`` with :func:`parse_card`, so the layout
(``"\\n\\n"`` between blocks, ``## Title`` then a blank line then the body, one final newline) is defined here
once. ``parse_card(card.markdown()) == card`` for every card the builder makes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADING = "## "
_SECTION_BREAK = re.compile(r"\n\n(?=## )")  # a blank line, then a level-2 heading


@dataclass(frozen=True)
class CardSection:
    """One ``## `` section: its heading text and its markdown body."""

    title: str
    body: str

    def markdown(self) -> str:
        """``## title``, a blank line, the body."""
        return f"{HEADING}{self.title}\n\n{self.body}"


@dataclass(frozen=True)
class Card:
    """A model card: what precedes the first section (front matter, title, disclaimer), then the sections."""

    preamble: str
    sections: tuple[CardSection, ...]

    def markdown(self) -> str:
        """The README text: the blocks joined by a blank line, newline-terminated."""
        return "\n\n".join([self.preamble, *(s.markdown() for s in self.sections)]) + "\n"

    def section_bodies(self) -> dict[str, str]:
        """``{title: body}`` with surrounding blank space removed (the first of a repeated title wins)."""
        out: dict[str, str] = {}
        for s in self.sections:
            out.setdefault(s.title, s.body.strip())
        return out


def parse_card(text: str) -> Card:
    """Split card markdown at its ``## `` headings (each after a blank line, as the builder writes them).

    Args:
        text: a ``README.md`` written by :func:`model.evaluate.card.write_card`, or a hand-written card.

    Returns:
        The :class:`Card`; text before the first heading is its preamble.
    """
    text = text.removesuffix("\n")
    if text.startswith(HEADING):
        text = "\n\n" + text  # no preamble: an empty one
    preamble, *parts = _SECTION_BREAK.split(text)
    sections = []
    for part in parts:
        head, _, body = part.partition("\n")
        sections.append(CardSection(head[len(HEADING) :].strip(), body.removeprefix("\n")))
    return Card(preamble, tuple(sections))
