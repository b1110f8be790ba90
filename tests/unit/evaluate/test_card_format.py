from __future__ import annotations

from pathlib import Path

from model.evaluate.card_format import Card, CardSection, parse_card

README = Path(__file__).resolve().parents[3] / "artifacts" / "model" / "README.md"


def test_the_bundled_card_parses_and_renders_back_byte_identically():
    text = README.read_text(encoding="utf-8")
    card = parse_card(text)
    assert card.markdown() == text
    assert card.preamble.startswith("---\n") and "\n## " not in card.preamble
    titles = [s.title for s in card.sections]
    assert titles[0] == "Model description" and titles[-1] == "How to use"
    assert {"Split", "Intended use", "Limitations", "Training data and its caveats"} <= set(titles)


def test_sections_round_trip_and_bodies_are_stripped():
    card = Card("# Title\n\nDisclaimer.", (CardSection("A", "one\n- two"), CardSection("B", "three")))
    text = card.markdown()
    assert text == "# Title\n\nDisclaimer.\n\n## A\n\none\n- two\n\n## B\n\nthree\n"
    assert parse_card(text) == card
    assert parse_card("## Only\n\n  body \n\n").section_bodies() == {"Only": "body"}
    assert parse_card("no sections\n") == Card("no sections", ())
    inline = parse_card("pre\n\n## A\n\ntext\n## not after a blank line\n")
    assert [s.title for s in inline.sections] == ["A"] and "## not after" in inline.sections[0].body
