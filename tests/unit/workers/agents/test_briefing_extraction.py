"""Offline extraction (workers/agents/briefing_extraction.py): the briefing fields a
user's words propose — languages with their direction, domain, tone, content type, the
organization's glossaries and style references, instructions, the text or the material
— in English, German, French and Spanish; negations and pasted text set nothing; and
whole dialogues, played as the offline agent plays them, end with a complete briefing."""

import pytest

from app.services.briefings import Rejected, Resource, Resources, check_value, missing_fields
from workers.agents.briefing_extraction import extract

LEGAL = Resource("gls_legal", "Legal EN", "de", "en")
BRAND = Resource("gls_brand", "Brand terms")
MARKETING = Resource("gls_mkt", "Marketing")
VOICE = Resource("sty_voice", "Brand voice 2025")
RESOURCES = Resources(glossaries=(LEGAL, BRAND, MARKETING), style_refs=(VOICE,))

TRANSLATION = {"mode": "translation"}
CREATION = {"mode": "creation"}
GERMAN_TEXT = ("Unsere Produkte stehen für höchste Qualität und Innovation. Bestellen Sie "
               "jetzt in unserem Onlineshop.")
WITH_TEXT = {"mode": "translation", "text": GERMAN_TEXT}
KNOWN = {"mode": "translation", "source_lang": "de", "target_lang": "en",
         "text": GERMAN_TEXT}
SHOE = {"product": "Trail Runner X", "features": "waterproof, 240 g"}


def proposed(message: str, briefing: dict = KNOWN, asked: str | None = None) -> dict:
    """What the message proposes; every value is one the briefing's rules take."""
    found = extract(message, briefing, RESOURCES, asked)
    for name, value in found.items():
        check_value(name, value, RESOURCES)
    return found


def play(briefing: dict, *messages: str, resources: Resources = RESOURCES) -> dict:
    """A dialogue as the offline agent holds it: each turn reads the user's message
    against the field the previous question asked for, then sets each value the rules
    take (a refused one is skipped; instructions are appended)."""
    briefing = dict(briefing)
    for message in messages:
        asked = next(iter(missing_fields(briefing)), None)
        for name, value in extract(message, briefing, resources, asked).items():
            try:
                value = check_value(name, value, resources)
            except Rejected:
                continue
            if name == "instructions" and briefing.get("instructions"):
                value = f"{briefing['instructions']}\n{value}"
            briefing[name] = value
    return briefing


# -- languages ---------------------------------------------------------------------------

@pytest.mark.parametrize("message, briefing, asked, languages", [
    ("German to English", WITH_TEXT, "source_lang", {"source_lang": "de", "target_lang": "en"}),
    ("from German into English, please", WITH_TEXT, "source_lang",
     {"source_lang": "de", "target_lang": "en"}),
    ("de→en", WITH_TEXT, "source_lang", {"source_lang": "de", "target_lang": "en"}),
    ("de->en", WITH_TEXT, "source_lang", {"source_lang": "de", "target_lang": "en"}),
    ("de > en", WITH_TEXT, "source_lang", {"source_lang": "de", "target_lang": "en"}),
    ("DE-EN", WITH_TEXT, "source_lang", {"source_lang": "de", "target_lang": "en"}),
    ("German/English", WITH_TEXT, "source_lang", {"source_lang": "de", "target_lang": "en"}),
    ("It's a German text, into English", TRANSLATION, "source_lang",
     {"source_lang": "de", "target_lang": "en"}),
    ("The text is in Dutch", TRANSLATION, "source_lang", {"source_lang": "nl"}),
    ("source language is Italian", TRANSLATION, None, {"source_lang": "it"}),
    ("target: French", TRANSLATION, None, {"target_lang": "fr"}),
    ("Target: en-US", TRANSLATION, None, {"target_lang": "en"}),
    ("Translate to EN please", TRANSLATION, None, {"target_lang": "en"}),
    # German
    ("Bitte ins Englische übersetzen", WITH_TEXT, "source_lang", {"target_lang": "en"}),
    ("aus dem Deutschen ins Englische", WITH_TEXT, "source_lang",
     {"source_lang": "de", "target_lang": "en"}),
    ("von Deutsch nach Englisch", WITH_TEXT, "source_lang",
     {"source_lang": "de", "target_lang": "en"}),
    ("Deutsch-Englisch", WITH_TEXT, "source_lang", {"source_lang": "de", "target_lang": "en"}),
    ("auf Englisch", WITH_TEXT, "target_lang", {"target_lang": "en"}),
    ("Zielsprache: Französisch", WITH_TEXT, None, {"target_lang": "fr"}),
    # French
    ("en français", WITH_TEXT, "target_lang", {"target_lang": "fr"}),
    ("vers l'anglais", WITH_TEXT, None, {"target_lang": "en"}),
    ("de l'allemand vers l'anglais", WITH_TEXT, "source_lang",
     {"source_lang": "de", "target_lang": "en"}),
    ("un texte en allemand à traduire en anglais", TRANSLATION, "source_lang",
     {"source_lang": "de", "target_lang": "en"}),
    # Spanish
    ("al español", WITH_TEXT, None, {"target_lang": "es"}),
    ("del alemán al inglés", WITH_TEXT, "source_lang",
     {"source_lang": "de", "target_lang": "en"}),
    ("de inglés a español", TRANSLATION, "source_lang",
     {"source_lang": "en", "target_lang": "es"}),
])
def test_languages_are_read_with_their_direction(message, briefing, asked, languages):
    found = proposed(message, briefing, asked)
    assert {k: v for k, v in found.items() if k.endswith("_lang")} == languages


@pytest.mark.parametrize("message, asked, languages", [
    ("Italian", "source_lang", {"source_lang": "it"}),
    ("Italian", "target_lang", {"target_lang": "it"}),
    ("Portuguese", None, {"target_lang": "pt"}),
    ("fr", "target_lang", {"target_lang": "fr"}),
    ("en-GB", "target_lang", {"target_lang": "en"}),
    ("Polish", "target_lang", {"target_lang": "pl"}),
])
def test_a_lone_language_answers_the_question_asked(message, asked, languages):
    assert proposed(message, TRANSLATION, asked) == languages


def test_a_lone_language_the_text_is_plainly_not_in_is_the_target():
    """Asked which language the German text is in, "English please" means the target."""
    assert proposed("English please", WITH_TEXT, "source_lang") == {"target_lang": "en"}
    assert proposed("German", WITH_TEXT, "source_lang") == {"source_lang": "de"}


def test_a_lone_language_is_the_target_once_the_source_is_known():
    briefing = {**WITH_TEXT, "source_lang": "de"}
    assert proposed("French", briefing, "target_lang") == {"target_lang": "fr"}
    assert proposed("Actually, Spanish", {**KNOWN}, None) == {"target_lang": "es"}


@pytest.mark.parametrize("message, asked", [
    ("no", "domain"), ("it is for a shop", "domain"), ("Polish the text a bit", None),
    ("I need it by Monday", "tone"), ("de facto legal", "domain")])
def test_words_that_look_like_codes_or_names_are_no_languages(message, asked):
    found = proposed(message, KNOWN, asked)
    assert "source_lang" not in found and "target_lang" not in found


def test_a_language_in_creation_mode_is_the_target():
    assert proposed("Auf Deutsch bitte", CREATION, "target_lang") == {"target_lang": "de"}
    assert proposed("written in French", CREATION, None) == {"target_lang": "fr"}


# -- domain, tone, content type ----------------------------------------------------------

@pytest.mark.parametrize("message, domain", [
    ("Marketing", "marketing"), ("It's for an advertising campaign", "marketing"),
    ("Werbung", "marketing"), ("publicidad", "marketing"),
    ("It's a legal contract", "legal"), ("juristisch", "legal"), ("rechtliche Texte", "legal"),
    ("ein Vertrag", "legal"), ("juridique", "legal"), ("our terms and conditions", "legal"),
    ("technical", "technical"), ("a user manual", "technical"),
    ("technische Dokumentation", "technical"), ("documentation", "technical"),
    ("medizinisch", "medical"), ("clinical study", "medical"), ("médical", "medical"),
    ("It's for our online shop", "e-commerce"), ("webshop", "e-commerce"),
    ("Onlineshop", "e-commerce"), ("ecommerce", "e-commerce"), ("boutique en ligne", "e-commerce"),
    ("Finanzen", "financial"), ("banking", "financial"), ("financiero", "financial"),
    ("scientific paper", "scientific"), ("wissenschaftlich", "scientific"),
    ("general", "general"), ("allgemein", "general"),
])
def test_a_domain_is_read_by_its_words(message, domain):
    assert proposed(message, KNOWN, "domain") == {"domain": domain}


@pytest.mark.parametrize("message, tone", [
    ("formal please", "formal"), ("förmlich", "formal"), ("Sie-Form", "formal"),
    ("per Sie", "formal"), ("formel", "formal"), ("tono formal", "formal"), ("Sie", "formal"),
    ("informal", "informal"), ("casual", "informal"), ("locker", "informal"),
    ("Du-Form", "informal"), ("informel", "informal"), ("informal, por favor", "informal"),
    ("du", "informal"),
    ("friendly", "friendly"), ("freundlich", "friendly"), ("amical", "friendly"),
    ("sachlich", "neutral"), ("neutral", "neutral"), ("neutre", "neutral"),
    ("professional", "professional"), ("professionell", "professional"),
    ("persuasive", "persuasive"), ("überzeugend", "persuasive"),
    ("playful", "playful"), ("verspielt", "playful"), ("divertido", "playful"),
])
def test_a_tone_is_read_by_its_words(message, tone):
    assert proposed(message, KNOWN, "tone") == {"tone": tone}


@pytest.mark.parametrize("message, found", [
    ("Marketing, formal tone please", {"domain": "marketing", "tone": "formal"}),
    ("Marketing, förmlich", {"domain": "marketing", "tone": "formal"}),
    ("It's for our online shop, friendly tone", {"domain": "e-commerce", "tone": "friendly"}),
    ("C'est pour un site juridique, ton formel", {"domain": "legal", "tone": "formal"}),
    ("Es para publicidad, tono informal", {"domain": "marketing", "tone": "informal"}),
    ("Sachlich, technische Dokumentation", {"domain": "technical", "tone": "neutral"}),
])
def test_a_domain_and_a_tone_in_one_message(message, found):
    assert proposed(message, KNOWN, "domain") == found


@pytest.mark.parametrize("message, content_type", [
    ("A product description, please.", "product description"),
    ("Produktbeschreibung", "product description"),
    ("a blog post", "blog post"), ("Blogartikel", "blog post"),
    ("a post for Instagram", "social media post"), ("LinkedIn post", "social media post"),
    ("social media", "social media post"), ("Newsletter", "newsletter"),
    ("landing page", "landing page"), ("ad copy", "ad copy"), ("Anzeigentext", "ad copy"),
    ("an email", "email"), ("description", "product description"),
])
def test_a_content_type_is_read_in_creation_mode(message, content_type):
    briefing = {**CREATION, "target_lang": "de", "input_material": SHOE}
    assert proposed(message, briefing, "content_type") == {"content_type": content_type}


def test_a_content_type_is_no_field_of_a_translation():
    assert "content_type" not in proposed("It's a product description", KNOWN, "domain")


# -- negation ----------------------------------------------------------------------------

@pytest.mark.parametrize("message, field", [
    ("not formal", "tone"), ("no formal", "tone"), ("nicht förmlich", "tone"),
    ("pas formel", "tone"), ("I don't want it too formal", "tone"),
    ("not legal", "domain"), ("kein Marketing", "domain"), ("sin publicidad", "domain"),
    ("no glossary", "glossary_id"), ("without the Brand terms glossary", "glossary_id"),
    ("Don't use the Legal EN glossary", "glossary_id"), ("not into French", "target_lang"),
])
def test_a_negated_setting_sets_nothing(message, field):
    assert field not in proposed(message, KNOWN, "tone")


@pytest.mark.parametrize("message, found", [
    ("not formal, friendly", {"tone": "friendly"}),
    ("friendly rather than formal", {"tone": "friendly"}),
    ("Formal, not informal", {"tone": "formal"}),
    ("No, formal please", {"tone": "formal"}),
    ("Not legal, marketing", {"domain": "marketing"}),
    ("nicht förmlich, eher locker", {"tone": "informal"}),
    ("Weder förmlich noch locker, eher sachlich", {"tone": "neutral"}),
])
def test_what_is_not_negated_still_counts(message, found):
    assert proposed(message, KNOWN, "tone") == found


# -- the organization's glossaries and style references ------------------------------------

@pytest.mark.parametrize("message, found", [
    ("use the Legal EN glossary", {"glossary_id": "gls_legal"}),
    ("Use the legal en glossary", {"glossary_id": "gls_legal"}),
    ("with our 'Brand terms' glossary", {"glossary_id": "gls_brand"}),
    ("Glossar: Brand-Terms", {"glossary_id": "gls_brand"}),
    ("the Marketing glossary please", {"glossary_id": "gls_mkt"}),
    ("use gls_legal", {"glossary_id": "gls_legal"}),
    ("style like Brand voice 2025", {"style_ref_id": "sty_voice"}),
    ("Stil wie Brand voice 2025", {"style_ref_id": "sty_voice"}),
    ("use the Legal EN and the Brand terms glossaries",
     {"glossary_ids": ["gls_legal", "gls_brand"]}),
])
def test_resources_are_matched_on_their_names_and_ids(message, found):
    assert proposed(message, KNOWN, None) == found


def test_a_one_word_resource_name_needs_quotes_or_the_word_glossary():
    """"Marketing" after the domain question is the domain, not the Marketing glossary."""
    assert proposed("Marketing", KNOWN, "domain") == {"domain": "marketing"}
    assert proposed("Glossary: 'Marketing'", KNOWN, None) == {"glossary_id": "gls_mkt"}


def test_a_glossary_named_in_a_sentence_is_found_beside_the_other_settings():
    assert proposed("It's legal stuff - use the Legal EN glossary and a formal tone",
                    KNOWN, "domain") == {"domain": "legal", "tone": "formal",
                                         "glossary_id": "gls_legal"}


def test_another_glossary_named_with_also_is_added():
    briefing = {**KNOWN, "glossary_id": "gls_legal"}
    assert proposed("Also use the Brand terms glossary", briefing) == {
        "glossary_ids": ["gls_brand"]}
    assert proposed("Use the Brand terms glossary", briefing) == {"glossary_id": "gls_brand"}


def test_a_glossary_the_organization_lacks_is_not_invented():
    """Nor kept as an instruction: the agent offers the glossaries there are."""
    assert proposed("use the Medical FR glossary", KNOWN) == {}


# -- instructions ------------------------------------------------------------------------

@pytest.mark.parametrize("message, instructions", [
    ("Please keep product names in English", "Please keep product names in English."),
    ("Don't translate the brand name.", "Don't translate the brand name."),
    ("Use British spelling", "Use British spelling."),
    ("Instructions: keep it short, no emojis", "Keep it short, no emojis."),
    ("Make sure numbers use a decimal comma.", "Make sure numbers use a decimal comma."),
    ("Avoid anglicisms", "Avoid anglicisms."),
    ("Keep technical terms consistent", "Keep technical terms consistent."),
    ("Keep sentences short. Never use exclamation marks!",
     "Keep sentences short. Never use exclamation marks!"),
    ("Markennamen nicht übersetzen", "Markennamen nicht übersetzen."),
    ("Ne traduisez pas les noms de produits", "Ne traduisez pas les noms de produits."),
    ('Translate "Cart" as "Warenkorb"', 'Translate "Cart" as "Warenkorb".'),
    ("Instructions:\n- keep product names in English\n- use British spelling",
     "Keep product names in English. Use British spelling."),
])
def test_instructions_are_taken_as_the_user_wrote_them(message, instructions):
    assert proposed(message, KNOWN, None) == {"instructions": instructions}


def test_an_instruction_is_never_read_as_settings():
    """"in English" inside an instruction is no target language."""
    found = proposed("Please keep product names in English", {**WITH_TEXT, "source_lang": "de"},
                     "target_lang")
    assert "target_lang" not in found


@pytest.mark.parametrize("message, found", [
    ("Formal tone, and please keep product names in English",
     {"tone": "formal", "instructions": "Please keep product names in English."}),
    ("Bitte die Sie-Form verwenden und Markennamen nicht übersetzen.",
     {"tone": "formal", "instructions": "Markennamen nicht übersetzen."}),
    ("Make sure numbers use a decimal comma. Keep the tone friendly.",
     {"tone": "friendly", "instructions": "Make sure numbers use a decimal comma."}),
    ("Use British spelling and the Legal EN glossary",
     {"glossary_id": "gls_legal", "instructions": "Use British spelling."}),
    ("Keep it formal", {"tone": "formal"}),
    ("Make sure the tone is friendly", {"tone": "friendly"}),
    ("Use the Legal EN glossary.", {"glossary_id": "gls_legal"}),
])
def test_settings_said_like_instructions_are_settings(message, found):
    assert proposed(message, KNOWN, "tone") == found


def test_only_new_instructions_are_proposed():
    """The agent appends them to the briefing's; one already there is not repeated."""
    briefing = {**KNOWN, "instructions": "Use British spelling."}
    assert proposed("Use British spelling", briefing) == {}
    assert proposed("Keep it short", briefing) == {"instructions": "Keep it short."}


# -- the text to translate ---------------------------------------------------------------

ASKED_TEXT = {"mode": "translation", "source_lang": "de", "target_lang": "en"}


@pytest.mark.parametrize("message, text", [
    (GERMAN_TEXT, GERMAN_TEXT),
    (f"Here is the text: {GERMAN_TEXT}", GERMAN_TEXT),
    (f"Here it is:\n{GERMAN_TEXT}", GERMAN_TEXT),
    (f"Hier ist der Text:\n{GERMAN_TEXT}", GERMAN_TEXT),
    (f"Voici le texte : {GERMAN_TEXT}", GERMAN_TEXT),
    (f'"{GERMAN_TEXT}"', GERMAN_TEXT),
    ("Willkommen in unserem Onlineshop", "Willkommen in unserem Onlineshop"),
])
def test_after_the_text_question_the_message_is_the_text(message, text):
    assert proposed(message, ASKED_TEXT, "text") == {"text": text}


@pytest.mark.parametrize("message", [
    "Hier finden Sie: Schuhe, Taschen und Gürtel.",
    "Übersetzungsdienstleistungen für Unternehmen: schnell und zuverlässig.",
    "Das Wichtigste: Qualität.",
])
def test_a_texts_own_colon_is_no_lead_in(message):
    assert proposed(message, ASKED_TEXT, "text") == {"text": message}


def test_a_line_ending_with_a_colon_announces_a_text_only_in_lead_in_words():
    assert proposed("Can you translate this for our webshop:\nHallo Welt", TRANSLATION,
                    "source_lang") == {"text": "Hallo Welt", "domain": "e-commerce"}
    assert proposed("Our new spring collection:\nShoes", TRANSLATION, "source_lang") == {}


def test_a_short_answer_made_of_settings_is_no_text():
    assert proposed("Marketing, formal tone please", ASKED_TEXT, "text") == {
        "domain": "marketing", "tone": "formal"}
    assert proposed("Sorry, the target should be French", ASKED_TEXT, "text") == {
        "target_lang": "fr"}


def test_settings_in_a_paragraph_after_the_text_are_read():
    message = f"Here is the text:\n{GERMAN_TEXT}\n\nMarketing, friendly"
    assert proposed(message, ASKED_TEXT, "text") == {
        "text": GERMAN_TEXT, "domain": "marketing", "tone": "friendly"}


@pytest.mark.parametrize("message, found", [
    ("Translate this: Unsere Produkte sind formal und freundlich.",
     {"text": "Unsere Produkte sind formal und freundlich."}),
    ("Text: Hallo Welt, wir sind ein juristisch geprüfter Onlineshop",
     {"text": "Hallo Welt, wir sind ein juristisch geprüfter Onlineshop"}),
    (f"Please translate into English:\n{GERMAN_TEXT}", {"text": GERMAN_TEXT,
                                                        "target_lang": "en"}),
    ("Translate this into German: Hello world, we are a friendly and formal online shop.",
     {"text": "Hello world, we are a friendly and formal online shop.", "target_lang": "de"}),
    ('Translate "Willkommen im Shop" into English',
     {"text": "Willkommen im Shop", "target_lang": "en"}),
    (("Bitte den folgenden Text ins Französische übersetzen:\nUnsere Produkte sind "
     "förmlich, locker, juristisch und medizinisch einwandfrei. Use the Legal EN glossary."),
     {"text": "Unsere Produkte sind förmlich, locker, juristisch und medizinisch "
              "einwandfrei. Use the Legal EN glossary.", "target_lang": "fr"}),
])
def test_pasted_text_is_taken_and_its_words_are_no_settings(message, found):
    assert proposed(message, TRANSLATION, "source_lang") == found


def test_text_quoted_in_an_instruction_is_no_text():
    assert "text" not in proposed('Please keep "Parley" untranslated', TRANSLATION)
    assert "text" not in proposed("with our 'Brand terms' glossary", TRANSLATION)


def test_settings_with_colons_are_no_text():
    assert proposed("Domain: legal\nTone: formal", TRANSLATION, "source_lang") == {
        "domain": "legal", "tone": "formal"}
    assert proposed("Here are my settings:\nGerman to English\nformal", TRANSLATION,
                    "source_lang") == {"source_lang": "de", "target_lang": "en",
                                       "tone": "formal"}


# -- the material (creation) -------------------------------------------------------------

ASKED_MATERIAL = {"mode": "creation", "target_lang": "de"}


@pytest.mark.parametrize("message, material", [
    ("product: Trail Runner X\nfeatures: waterproof, 240 g", SHOE),
    ("- product: Trail Runner X\n- features: waterproof, 240 g", SHOE),
    ("Here is the data:\nproduct: Trail Runner X\nfeatures: waterproof, 240 g", SHOE),
    ('{"product": "Trail Runner X", "features": "waterproof, 240 g"}', SHOE),
    ("Colour: blue, Weight: 240 g", {"Colour": "blue", "Weight": "240 g"}),
    ("Produkt: Laufschuh X\nMerkmale: wasserdicht, leicht",
     {"Produkt": "Laufschuh X", "Merkmale": "wasserdicht, leicht"}),
    ("Target group: young parents\nProduct: Stroller",
     {"Target group": "young parents", "Product": "Stroller"}),
    ("A light waterproof trail shoe for women",
     {"description": "A light waterproof trail shoe for women"}),
])
def test_after_the_material_question_name_value_lines_are_the_material(message, material):
    assert proposed(message, ASKED_MATERIAL, "input_material") == {"input_material": material}


def test_settings_beside_the_material_are_read_and_its_values_are_not():
    message = "product: Trail Runner X\nfeatures: friendly to feet, formal look\nTone: playful"
    assert proposed(message, ASKED_MATERIAL, "input_material") == {
        "input_material": {"product": "Trail Runner X",
                           "features": "friendly to feet, formal look"},
        "tone": "playful"}


def test_material_announced_by_a_lead_in_is_taken_unasked():
    message = ("Please write a LinkedIn post in English from these facts:\n"
               "Company: Contoso\nNews: new office in Berlin")
    assert proposed(message, CREATION, "target_lang") == {
        "input_material": {"Company": "Contoso", "News": "new office in Berlin"},
        "content_type": "social media post", "target_lang": "en"}


def test_a_short_answer_made_of_settings_is_no_material():
    assert proposed("A product description in German", CREATION, "input_material") == {
        "content_type": "product description", "target_lang": "de"}


# -- whole dialogues ---------------------------------------------------------------------

@pytest.mark.parametrize("created, messages", [
    ({"mode": "translation", "text": GERMAN_TEXT},
     ["German to English please", "It's for our online shop, friendly tone"]),
    ({"mode": "translation", "text": GERMAN_TEXT},
     ["Bitte ins Englische übersetzen", "Deutsch", "Marketing, förmlich"]),
    ({"mode": "translation", "text": GERMAN_TEXT},
     ["Bitte aus dem Deutschen ins Englische übersetzen", "Marketing", "förmlich bitte"]),
    ({"mode": "translation", "text": GERMAN_TEXT, "source_lang": "de", "target_lang": "en"},
     ["It's a legal contract", "formal please"]),
    ({"mode": "translation"},
     ["from German into English, please", f"Here is the text:\n{GERMAN_TEXT}",
      "technical documentation, neutral tone"]),
    ({"mode": "translation", "text": "Our products stand for quality."},
     ["de→fr", "C'est pour notre boutique en ligne, ton chaleureux."]),
    ({"mode": "translation", "text": "Our products stand for quality."},
     ["Necesito traducir del inglés al español", "es para publicidad, tono informal"]),
    ({"mode": "translation"},
     [f"Please translate into French:\n{GERMAN_TEXT}", "German", "e-commerce", "casual"]),
])
def test_a_translation_dialogue_completes_the_briefing(created, messages):
    briefing = play(created, *messages)
    assert missing_fields(briefing) == [], briefing
    assert briefing["text"] == created.get("text", GERMAN_TEXT)


def test_a_translation_dialogue_reads_every_field_right():
    briefing = play({"mode": "translation", "text": GERMAN_TEXT},
                    "German to English please",
                    "It's for our online shop, friendly tone. Don't translate the brand name.")
    assert briefing == {"mode": "translation", "text": GERMAN_TEXT, "source_lang": "de",
                        "target_lang": "en", "domain": "e-commerce", "tone": "friendly",
                        "instructions": "Don't translate the brand name."}


def test_a_german_dialogue_reads_every_field_right():
    briefing = play({"mode": "translation", "text": GERMAN_TEXT, "source_lang": "de"},
                    "Bitte ins Englische übersetzen", "Marketing, förmlich")
    assert (briefing["source_lang"], briefing["target_lang"], briefing["domain"],
            briefing["tone"]) == ("de", "en", "marketing", "formal")


@pytest.mark.parametrize("created, messages", [
    ({"mode": "creation", "input_material": SHOE},
     ["A product description in German", "e-commerce, formal"]),
    ({"mode": "creation", "input_material": SHOE, "target_lang": "de"},
     ["A product description, please.", "It's for our e-commerce shop", "Friendly!"]),
    ({"mode": "creation", "input_material": SHOE},
     ["Schreib eine Produktbeschreibung auf Deutsch", "Onlineshop, Du-Form"]),
    ({"mode": "creation"},
     ["In English please", "product: Trail Runner X\nfeatures: waterproof, 240 g",
      "a post for Instagram", "marketing, playful"]),
    ({"mode": "creation"},
     ["Un article de blog en français", "Produit: Chaussure X\nPoids: 240 g",
      "technique, neutre"]),
    ({"mode": "creation", "input_material": SHOE},
     ["newsletter en español, tono profesional", "Es para nuestra tienda online"]),
])
def test_a_creation_dialogue_completes_the_briefing(created, messages):
    briefing = play(created, *messages)
    assert missing_fields(briefing) == [], briefing


def test_a_creation_dialogue_reads_every_field_right():
    briefing = play({"mode": "creation", "input_material": SHOE},
                    "A product description in German", "e-commerce, formal")
    assert briefing == {"mode": "creation", "input_material": SHOE, "target_lang": "de",
                        "content_type": "product description", "domain": "e-commerce",
                        "tone": "formal"}


def test_a_dialogue_naming_a_glossary_ends_with_it_set():
    briefing = play({"mode": "translation", "text": GERMAN_TEXT},
                    "From German into English, please.", "It's a legal contract, formal tone.",
                    "Use the Legal EN glossary.")
    assert missing_fields(briefing) == []
    assert briefing["glossary_id"] == "gls_legal"
    assert (briefing["domain"], briefing["tone"]) == ("legal", "formal")


def test_a_dialogue_naming_a_style_and_instructions_keeps_them_all():
    briefing = play({"mode": "translation", "text": GERMAN_TEXT, "source_lang": "de",
                     "target_lang": "en"},
                    "Marketing, friendly", "Style like Brand voice 2025, please.",
                    "Keep product names in German.", "Use British spelling.")
    assert briefing["style_ref_id"] == "sty_voice"
    assert briefing["instructions"] == "Keep product names in German.\nUse British spelling."
    assert briefing["target_lang"] == "en"


def test_a_dialogue_without_resources_skips_a_glossary_it_cannot_find():
    briefing = play({"mode": "translation", "text": GERMAN_TEXT},
                    "German to English", "legal, formal", "use the Legal EN glossary",
                    resources=Resources())
    assert missing_fields(briefing) == [] and "glossary_id" not in briefing


FACE_RESOURCES = Resources(glossaries=(Resource("gls_m", "Marketing"), Resource("gls_l", "Legal")))


@pytest.mark.parametrize("briefing, asked, message, found", [
    (KNOWN, "domain", "It's a legal contract", {"domain": "legal"}),
    (KNOWN, "domain", "legal", {"domain": "legal"}),
    (KNOWN, "tone", "formal please", {"tone": "formal"}),
    ({**KNOWN, "domain": "legal", "tone": "formal"}, None, "use the Legal glossary",
     {"glossary_id": "gls_l"}),
    ({**KNOWN, "domain": "legal", "tone": "formal"}, None, "Use our Legal glossary.",
     {"glossary_id": "gls_l"}),
    (WITH_TEXT, "source_lang", "From German into English, please.",
     {"source_lang": "de", "target_lang": "en"}),
    (KNOWN, "domain", "It's a legal contract, formal tone.", {"domain": "legal", "tone": "formal"}),
    (KNOWN, "domain", "A legal contract; formal tone.", {"domain": "legal", "tone": "formal"}),
    ({**CREATION, "input_material": SHOE, "target_lang": "de"}, "content_type",
     "A product description, please.", {"content_type": "product description"}),
    ({**CREATION, "input_material": SHOE, "target_lang": "de"}, "domain",
     "It's for our e-commerce shop", {"domain": "e-commerce"}),
    ({**CREATION, "input_material": SHOE, "target_lang": "de"}, "tone", "Friendly!",
     {"tone": "friendly"}),
])
def test_the_dialog_sessions_face_dialogues_propose_exactly_their_fields(briefing, asked,
                                                                        message, found):
    """The turns the face's own tests hold offline (tests/integration/...) and the updates
    they expect: nothing more ("Legal" the glossary is no domain, "legal" no glossary)."""
    assert extract(message, briefing, FACE_RESOURCES, asked) == found
