"""The offline model's reading (workers/llm/extractive.py, through OfflineProvider): the
sentence that answers goes first, across word forms and common paraphrases, markdown
is read as markdown, and a question the passages do not answer is said to be so."""

from pathlib import Path

import pytest

from workers.llm.base import LLMRequest, Source
from workers.llm.extractive import answering_sentences, read_passage
from workers.llm.offline import NOT_FOUND, OfflineProvider

ESPRESSO_SHEET = """# Aurora X2 Espresso Machine

The **Aurora X2** is a compact espresso machine for homes and small offices.

## At a glance

- Heats up in 25 seconds thanks to its thermoblock.
- Costs 549 euros, including VAT, in the [online shop](https://shop.example.com/x2).
- The removable water tank holds 2.2 litres.

## Specifications

| Specification | Value |
| --- | --- |
| Power | 1,650 W |
| Colours | Matte black, ivory |

The machine weighs 7.5 kilograms, light enough to move.

## Warranty

The Aurora X2 comes with a two-year warranty. Repairs are carried out by service centres.
"""


def answer(question: str, sources: list[Source]) -> str:
    request = LLMRequest(system="", messages=[{"role": "user", "content": question}],
                         question=question, sources=sources)
    return OfflineProvider().generate(request).text


def first_quote(question: str, text: str = ESPRESSO_SHEET, title: str = "aurora-x2") -> str:
    quotes = answering_sentences(question, [Source(title, text)])
    assert quotes, f"no answer to {question!r}"
    return quotes[0][1]


@pytest.mark.parametrize("question, sentence", [
    ("How much does it weigh?", "The machine weighs 7.5 kilograms, light enough to move."),
    ("How fast does it heat up?", "Heats up in 25 seconds thanks to its thermoblock."),
    ("What's the cost?", "Costs 549 euros, including VAT, in the online shop."),
])
def test_word_forms_find_the_answer(question, sentence):
    assert first_quote(question) == sentence


@pytest.mark.parametrize("question, sentence", [
    ("How long is the guarantee?", "The Aurora X2 comes with a two-year warranty."),
    ("What is the price?", "Costs 549 euros, including VAT, in the online shop."),
    ("How big is the reservoir?", "The removable water tank holds 2.2 litres."),
    ("Which colors are there?", "Colours: Matte black, ivory."),
])
def test_common_paraphrases_find_the_answer(question, sentence):
    assert first_quote(question) == sentence


def test_the_specs_example_quotes_the_sla_sentence_first():
    sheet = ("FiberUP Business Duplex is a symmetric fibre plan for offices. It includes a "
             "service level agreement (SLA) with 99.9% uptime and a four-hour repair time.")

    reply = answer("Does FiberUP Business Duplex include an SLA?",
                   [Source("FiberUP Business Duplex", sheet)])

    assert reply.startswith("According to \u201cFiberUP Business Duplex\u201d: It includes a "
                            "service level agreement (SLA)")


def test_markdown_does_not_leak_into_the_answer():
    reply = answer("How much does it weigh?", [Source("aurora-x2", ESPRESSO_SHEET)])

    assert reply.startswith("According to \u201caurora-x2\u201d: The machine weighs 7.5")
    for mark in ("#", "**", "|", "](", "- "):
        assert mark not in reply


def test_a_table_row_reads_as_its_cells():
    assert first_quote("How many watts does it draw?") == "Power: 1,650 W."


def test_links_read_as_their_text():
    assert "online shop" in first_quote("What's the cost?")
    assert "https://" not in first_quote("What's the cost?")


def test_the_answering_sentence_comes_first_whatever_its_place():
    text = ("Our office opens at nine. Parking is free for visitors. "
            "The office cat is called Biscuit.")

    assert first_quote("What is the cat called?", text, "Office") == (
        "The office cat is called Biscuit.")


def test_at_most_two_sentences_are_quoted():
    text = " ".join(f"The plan includes an SLA of level {n}." for n in range(6))

    assert len(answering_sentences("Does the plan include an SLA?", [Source("Plan", text)])) <= 2


def test_a_second_sentence_must_score_nearly_as_well():
    text = ("The Aurora X2 comes with a two-year warranty. "
            "Repairs are carried out by service centres.")

    quotes = answering_sentences("How long is the warranty?", [Source("aurora-x2", text)])

    assert [sentence for _, sentence in quotes] == [
        "The Aurora X2 comes with a two-year warranty."]


def test_what_the_passages_do_not_say_is_not_found():
    assert answer("Does it have a built-in grinder?",
                  [Source("aurora-x2", ESPRESSO_SHEET)]) == NOT_FOUND


def test_a_passing_mention_is_not_an_answer():
    assert answer("What is the capital of Spain?", [Source("Service", (
        "Repairs are carried out in Germany, France, Italy and Spain."))]) == NOT_FOUND


def test_no_passages_is_not_found():
    assert answer("How much does it weigh?", []) == NOT_FOUND


# -- reading markdown ---------------------------------------------------------------------


def test_headings_are_context_not_sentences():
    units = read_passage("# Aurora X2\n## Warranty\nTwo years from purchase.")

    assert units == [("Two years from purchase.", "Warranty")]


def test_a_table_is_read_row_by_row_under_its_header():
    units = read_passage("## Troubleshooting\n| Light | Meaning |\n| --- | --- |\n"
                         "| Solid red | No internet |\n| Purple | Resetting |")

    assert units == [("Solid red: No internet.", "Troubleshooting Light Meaning"),
                     ("Purple: Resetting.", "Troubleshooting Light Meaning")]


def test_a_table_stored_on_one_line_is_read_row_by_row():
    units = read_passage("| Item | Value | | --- | --- | | Weight | 7.5 kg | | Power | 1,650 W |")

    assert [text for text, _ in units] == ["Weight: 7.5 kg.", "Power: 1,650 W."]


def test_list_markers_emphasis_and_quotes_are_dropped():
    units = read_passage("1. Rinse the **drip tray** daily.\n- Descale *every* three months.\n"
                         "> Tip: keep `the receipt`.")

    assert [text for text, _ in units] == [
        "Rinse the drip tray daily.", "Descale every three months.", "Tip: keep the receipt."]


def test_list_items_joined_on_one_line_lose_their_markers():
    units = read_passage("- Heats up in 25 seconds. - Costs 549 euros.")

    assert [text for text, _ in units] == ["Heats up in 25 seconds.", "Costs 549 euros."]


def test_code_joins_the_sentence_that_announces_it():
    units = read_passage("To change the DNS servers, run this:\n```sh\n"
                         "nimbus-cli set dns 1.1.1.1\n```\n```\nstray code\n```")

    assert [text for text, _ in units] == [
        "To change the DNS servers, run this: nimbus-cli set dns 1.1.1.1"]


def test_rules_and_empty_lines_are_skipped():
    assert read_passage("---\n\n***\nText.") == [("Text.", "")]


def test_words_naming_a_documents_subject_do_not_outweigh_the_question_s_focus():
    """The README's walkthrough: the plan's name is in a price list's row too, but the
    question is about its SLA, which only the plan's own sheet states."""
    examples = Path(__file__).resolve().parents[4] / "examples"
    sources = [Source("price-list", (examples / "price-list.md").read_text()),
               Source("fiberup-business-duplex",
                      (examples / "fiberup-business-duplex.md").read_text())]

    answer = answering_sentences("Does FiberUP Business Duplex include an SLA?", sources)

    assert answer[0] == ("fiberup-business-duplex", "It includes a service level agreement "
                         "(SLA) with 99.9% uptime and a repair time of four hours on working "
                         "days.")


def test_quoted_list_items_end_as_sentences():
    items = "## In the box\n\n- One Ethernet cable, 1.5 m\n- Plug the Ethernet cable in"

    assert [text for text, _ in read_passage(items)] == [
        "One Ethernet cable, 1.5 m.", "Plug the Ethernet cable in."]

