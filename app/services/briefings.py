"""The briefing a dialog session builds, and the rules on it: its fields, which a mode
requires, how a proposed value is checked, how complete it is, its warnings, the
dialog's phase, and the question (with its quick actions) that asks for what is missing
next.

Plain values and pure functions, no database: the web side (session creation, the
preview, confirm) and the briefing agent (workers/agents) apply the same rules.

Phases, as the session's `phase` reports them:
  1  languages and material — the languages, and the text (translation) or the
     material and what to write from it (creation);
  2  domain and tone;
  3  resources and instructions — optional: a glossary, a style reference, free
     instructions; offered once everything required is known;
  4  ready to confirm.
"""

import re
from dataclasses import dataclass, field

TRANSLATION, CREATION = "translation", "creation"
MODES = (TRANSLATION, CREATION)

# Codes (ISO 639-1) the briefing accepts, with their English names.
LANGUAGES = {
    "ar": "Arabic", "bg": "Bulgarian", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian", "fi": "Finnish",
    "fr": "French", "hu": "Hungarian", "it": "Italian", "ja": "Japanese", "ko": "Korean",
    "lt": "Lithuanian", "lv": "Latvian", "nl": "Dutch", "no": "Norwegian", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian",
    "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}
DOMAINS = ("marketing", "legal", "technical", "medical", "e-commerce", "financial",
           "scientific", "general")
# Where a domain's words must be rendered one agreed way: a glossary is advised.
GLOSSARY_DOMAINS = ("legal", "medical", "technical", "financial", "scientific")
TONES = ("formal", "informal", "friendly", "neutral", "professional", "persuasive",
         "playful")
CONTENT_TYPES = ("product description", "blog post", "social media post", "newsletter",
                 "landing page", "ad copy", "email")

# Every field of a briefing, in the order a preview shows them.
FIELDS = ("mode", "source_lang", "target_lang", "text", "input_material", "content_type",
          "domain", "tone", "glossary_id", "glossary_ids", "style_ref_id", "instructions")
REQUIRED = {
    TRANSLATION: ("source_lang", "target_lang", "text", "domain", "tone"),
    CREATION: ("target_lang", "input_material", "content_type", "domain", "tone"),
}
# The fields each phase asks for; phase 3 asks for optional ones.
PHASE_FIELDS = {
    TRANSLATION: (("source_lang", "target_lang", "text"), ("domain", "tone")),
    CREATION: (("target_lang", "input_material", "content_type"), ("domain", "tone")),
}
READY = 4
MAX_TEXT_CHARS = 100_000
MAX_INSTRUCTIONS_CHARS = 2_000
MAX_SHORT_CHARS = 100


@dataclass(frozen=True)
class Resource:
    """One of the organization's glossaries or style references, as a briefing may
    name it."""

    id: str
    name: str
    source_lang: str | None = None
    target_lang: str | None = None


@dataclass(frozen=True)
class Resources:
    """What the organization has that a briefing may point at."""

    glossaries: tuple[Resource, ...] = ()
    style_refs: tuple[Resource, ...] = ()

    def glossary(self, glossary_id: str) -> Resource | None:
        return next((g for g in self.glossaries if g.id == glossary_id), None)

    def style_ref(self, style_ref_id: str) -> Resource | None:
        return next((s for s in self.style_refs if s.id == style_ref_id), None)


@dataclass(frozen=True)
class Action:
    """A quick-action button: what it sets, its label, the fields it sets."""

    action: str
    label: str
    payload: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"action": self.action, "label": self.label, "payload": self.payload}


@dataclass(frozen=True)
class Question:
    """What the agent says next, and the buttons offered with it."""

    text: str
    actions: tuple[Action, ...] = ()


# -- values ----------------------------------------------------------------------------

_LANGUAGE_BY_NAME = {name.lower(): code for code, name in LANGUAGES.items()}


def language_code(value) -> str | None:
    """A known language as its code, from a code or an English name; else None."""
    if not isinstance(value, str):
        return None
    value = value.strip().lower().replace("_", "-")
    if value in LANGUAGES:
        return value
    if re.fullmatch(r"[a-z]{2}-[a-z]{2,4}", value) and value[:2] in LANGUAGES:
        return value[:2]  # a regional variant (en-GB) is its language here
    return _LANGUAGE_BY_NAME.get(value)


def language_name(code: str | None) -> str:
    return LANGUAGES.get(code or "", code or "?")


class Rejected(ValueError):
    """A proposed value the briefing does not take; its message says why."""


def check_value(name: str, value, resources: Resources):
    """The value to store for field `name`, normalised; Rejected with a readable
    reason when the field is unknown or the value is not one the briefing takes."""
    if name in ("source_lang", "target_lang"):
        code = language_code(value)
        if code is None:
            raise Rejected(f"{value!r} is not a language code Parley knows "
                           f"({name} takes codes such as de, en, fr).")
        return code
    if name in ("domain", "tone", "content_type"):
        return _one_of(name, value, {"domain": DOMAINS, "tone": TONES,
                                     "content_type": CONTENT_TYPES}[name])
    if name == "glossary_id":
        return _resource_id(name, value, resources.glossary, "glossary")
    if name == "glossary_ids":
        if not isinstance(value, list) or not value:
            raise Rejected("glossary_ids takes a non-empty list of glossary ids.")
        return list(dict.fromkeys(_resource_id(name, v, resources.glossary, "glossary")
                                  for v in value))
    if name == "style_ref_id":
        return _resource_id(name, value, resources.style_ref, "style reference")
    if name == "text":
        return _text(name, value, MAX_TEXT_CHARS)
    if name == "instructions":
        return _text(name, value, MAX_INSTRUCTIONS_CHARS)
    if name == "input_material":
        if not isinstance(value, dict) or not value:
            raise Rejected("input_material takes a non-empty object (e.g. product data).")
        return value
    raise Rejected(f"{name!r} is not a briefing field.")


def _one_of(name: str, value, known: tuple[str, ...]) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    text = {"ecommerce": "e-commerce", "e commerce": "e-commerce"}.get(text, text)
    if text not in known:
        raise Rejected(f"{value!r} is not a {name.replace('_', ' ')} Parley knows "
                       f"(one of: {', '.join(known)}).")
    return text


def _resource_id(name: str, value, find, what: str) -> str:
    if not isinstance(value, str) or find(value) is None:
        raise Rejected(f"No {what} {value!r} in your organization.")
    return value


def _text(name: str, value, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Rejected(f"{name} takes non-empty text.")
    if len(value) > limit:
        raise Rejected(f"{name} is over {limit:,} characters.")
    return value.strip()


# -- the state of a briefing -------------------------------------------------------------

def is_set(briefing: dict, name: str) -> bool:
    return briefing.get(name) not in (None, "", [], {})


def missing_fields(briefing: dict) -> list[str]:
    """The required fields of the briefing's mode still empty, in the order asked."""
    return [name for name in REQUIRED[briefing["mode"]] if not is_set(briefing, name)]


def completeness(briefing: dict) -> float:
    """The share of the mode's required fields that are set (1.0: ready to confirm)."""
    required = REQUIRED[briefing["mode"]]
    return round((len(required) - len(missing_fields(briefing))) / len(required), 2)


def has_glossary(briefing: dict) -> bool:
    return is_set(briefing, "glossary_id") or is_set(briefing, "glossary_ids")


def glossary_ids(briefing: dict) -> list[str]:
    """Every glossary the briefing names, in order, once."""
    ids = [briefing["glossary_id"]] if is_set(briefing, "glossary_id") else []
    return list(dict.fromkeys([*ids, *(briefing.get("glossary_ids") or [])]))


def warnings(briefing: dict, resources: Resources) -> list[str]:
    """What the user may want to reconsider; none of it stops a confirm."""
    found = []
    domain = briefing.get("domain")
    if domain in GLOSSARY_DOMAINS and not has_glossary(briefing):
        found.append(f"{domain.capitalize()} domain: consider adding a glossary.")
    for glossary_id in glossary_ids(briefing):
        glossary = resources.glossary(glossary_id)
        if glossary is None:
            continue
        for side in ("source_lang", "target_lang"):
            wanted, has = briefing.get(side), getattr(glossary, side)
            if wanted and has and wanted != has:
                found.append(f"Glossary {glossary.name!r} is for {language_name(has)} as its "
                             f"{side.split('_')[0]} language, the briefing's is "
                             f"{language_name(wanted)}.")
    return found


def phase_of(briefing: dict, current: int = 1) -> int:
    """The phase the dialog is in: the first with a required field missing; once none
    is, 3 (resources and instructions, offered once), then 4. Never goes back."""
    for number, names in enumerate(PHASE_FIELDS[briefing["mode"]], start=1):
        if any(not is_set(briefing, name) for name in names):
            return max(current, number) if current < 3 else current
    return READY if current >= 3 else 3


# -- what the agent asks next ------------------------------------------------------------

def _actions(action: str, field_name: str, values, label=str.capitalize):
    return tuple(Action(action, label(value), {field_name: value}) for value in values)


_LANGUAGE_CHOICES = ("en", "de", "fr", "es", "it")
_QUESTIONS = {
    "source_lang": ("Which language is the text written in?",
                    lambda b, r: _actions("set_source_lang", "source_lang",
                                          _LANGUAGE_CHOICES, language_name)),
    "target_lang": ("Which language should it be {verb} into?",
                    lambda b, r: _actions("set_target_lang", "target_lang",
                                          [c for c in _LANGUAGE_CHOICES
                                           if c != b.get("source_lang")], language_name)),
    "text": ("Please paste the text to translate.", lambda b, r: ()),
    "input_material": ("What should the content be written from? Send the product data "
                       "or key facts, one 'name: value' per line.", lambda b, r: ()),
    "content_type": ("What should I write? (e.g., a product description, a blog post)",
                     lambda b, r: _actions("set_content_type", "content_type",
                                           CONTENT_TYPES[:4])),
    "domain": ("What domain is this for? (e.g., marketing, legal, technical)",
               lambda b, r: _actions("set_domain", "domain", DOMAINS[:5])),
    "tone": ("Which tone should it have? (e.g., formal, informal, friendly)",
             lambda b, r: _actions("set_tone", "tone", TONES[:4])),
}


def next_question(briefing: dict, phase: int, resources: Resources) -> Question:
    """The question asking for the most important missing field, with its buttons;
    or, once everything required is known, the offer of phase 3 or the call to confirm."""
    missing = missing_fields(briefing)
    if missing:
        template, actions = _QUESTIONS[missing[0]]
        verb = "translated" if briefing["mode"] == TRANSLATION else "written"
        return Question(template.format(verb=verb), actions(briefing, resources))
    if phase < READY:
        return _offer_resources(briefing, resources)
    return Question("The briefing is complete. Confirm it to start the job, or tell me "
                    "what to change.", (Action("confirm", "Confirm"),))


def _offer_resources(briefing: dict, resources: Resources) -> Question:
    actions = [Action("set_glossary", f"Glossary: {g.name}", {"glossary_id": g.id})
               for g in resources.glossaries[:5] if not has_glossary(briefing)]
    actions += [Action("set_style_ref", f"Style: {s.name}", {"style_ref_id": s.id})
                for s in resources.style_refs[:3] if not is_set(briefing, "style_ref_id")]
    actions.append(Action("confirm", "Confirm"))
    return Question("Everything required is known. Would you like to use a glossary or a "
                    "style reference, or add instructions? Otherwise, confirm the "
                    "briefing.", tuple(actions))


def opening(briefing: dict, resources: Resources) -> Question:
    """The session's first message, from what its creation already told: what is
    known, then the first question. No model is asked; a session starts in phase 1."""
    question = next_question(briefing, 1, resources)
    return Question(f"{_known(briefing)} {question.text}", question.actions)


def _known(briefing: dict) -> str:
    source, target = briefing.get("source_lang"), briefing.get("target_lang")
    if briefing["mode"] == TRANSLATION:
        if source and target:
            return (f"I see you want to translate a {language_name(source)} text to "
                    f"{language_name(target)}.")
        if target:
            return f"I see you want a text translated into {language_name(target)}."
        return "Let's set up your translation."
    if target:
        return f"I see you want content written in {language_name(target)}."
    return "Let's set up your content."
