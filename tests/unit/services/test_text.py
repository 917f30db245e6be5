"""The pure text functions (app/services/text.py): splitting a document into passages,
and a question's search terms."""

import pytest

from app.services.text import MAX_PASSAGE_CHARS, query_terms, split_passages, split_sentences
from tests.support.data import PRICE_DOCUMENT, SLA_DOCUMENT, SLA_QUESTION


def test_short_paragraphs_are_merged_into_one_passage():
    assert split_passages("First.\n\nSecond.\n\nThird.") == ["First.\nSecond.\nThird."]


def test_paragraphs_start_a_new_passage_when_full():
    paragraph = "word " * 30  # 150 characters each

    passages = split_passages("\n\n".join([paragraph.strip()] * 3), max_chars=320)

    assert len(passages) == 2
    assert passages[0].count("\n") == 1


def test_long_paragraph_is_split_at_sentence_ends():
    sentences = [f"Sentence number {i} says something about fibre plans." for i in range(40)]

    passages = split_passages(" ".join(sentences), max_chars=200)

    assert len(passages) > 1
    assert all(p.endswith(".") for p in passages)
    assert " ".join(p.replace("\n", " ") for p in passages) == " ".join(sentences)


def test_sentence_longer_than_a_passage_is_cut_hard():
    passages = split_passages("x" * 2000, max_chars=800)

    assert [len(p) for p in passages] == [800, 800, 400]


@pytest.mark.parametrize("max_chars", [50, 200, MAX_PASSAGE_CHARS])
def test_passages_never_exceed_the_maximum(max_chars):
    content = "\n\n".join([SLA_DOCUMENT, "y" * 1000, PRICE_DOCUMENT * 20, "Short."])

    assert all(len(p) <= max_chars for p in split_passages(content, max_chars=max_chars))


def test_whitespace_only_content_has_no_passages():
    assert split_passages(" \n\n \r\n\t ") == []


def test_windows_line_breaks_separate_paragraphs():
    assert split_passages("a " * 300 + "\r\n\r\n" + "b " * 300, max_chars=700) == [
        ("a " * 300).strip(), ("b " * 300).strip()]


# -- query terms ----------------------------------------------------------------------------------


def test_query_terms_drop_stop_words():
    assert query_terms(SLA_QUESTION) == ["fiberup", "business", "duplex", "include", "sla"]


def test_query_terms_are_lowercase_and_unique():
    assert query_terms("SLA sla Sla? The SLA! Uptime") == ["sla", "uptime"]


def test_query_terms_of_only_stop_words_are_empty():
    assert query_terms("What is it and how do you do it?") == []


# -- markdown and sentences -----------------------------------------------------------------


def test_markdown_blocks_keep_their_lines_and_wrapped_prose_joins():
    content = ("## Specs\nThe machine is\nlight.\n- first item\n- second item\n"
               "| a | b |\n| --- | --- |\n```\ncode\n```")

    assert split_passages(content) == [
        "## Specs\nThe machine is light.\n- first item\n- second item\n| a | b |\n"
        "| --- | --- |\n```\ncode\n```"]


def test_a_heading_never_ends_a_passage():
    content = "# Title\n\n" + "x " * 60 + "\n\n## Next section\n\n" + "y " * 60

    passages = split_passages(content, max_chars=150)

    assert not any(p.rsplit("\n", 1)[-1].startswith("#") for p in passages)
    assert passages[-1].startswith("## Next section\n")


def test_a_passage_inside_a_section_starts_with_its_headings():
    content = "# Manual\n\n## Warranty\n\n" + "\n\n".join(["Two years. " * 6] * 3)

    passages = split_passages(content, max_chars=150)

    assert len(passages) > 1
    assert all(p.startswith("# Manual\n## Warranty\n") for p in passages)


def test_sentences_end_before_a_capital_not_after_an_abbreviation():
    assert split_sentences("It costs 5 euros, e.g. for a month. Ask Dr. Smith. Done? Yes!") == [
        "It costs 5 euros, e.g. for a month.", "Ask Dr. Smith.", "Done?", "Yes!"]
