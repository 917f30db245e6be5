"""The job agent: carries out a confirmed briefing. A translation job translates the
briefing's text from its source to its target language in its domain and tone,
applying the glossary's terms and following the style reference and instructions; a
creation job writes the content the briefing asks for from its material. The result
says which glossary terms the output uses.

The offline model cannot translate or write, and says so: it applies the glossary
terms it can to the text (translation) or lays the material out as a draft (creation),
and its result says plainly that no model did the work.
"""

import json
import re

from app.services import briefings
from app.services.agent_io import JobInput, JobResult
from workers.llm import LLMRequest, OnText, Provider

TRANSLATE = """You are a professional translator. Translate the user's text from \
{source} into {target}. Domain: {domain}. Tone: {tone}.{glossary}{style}{instructions}
Answer with the translation only: no preamble, no notes."""
CREATE = """You are a professional copywriter. Write a {content_type} in {target} \
from the material the user gives. Domain: {domain}. Tone: {tone}.{glossary}{style}\
{instructions}
Answer with the content only: no preamble, no notes."""
GLOSSARY = "\nUse these glossary terms exactly (source → target):\n{terms}"
STYLE = "\nWrite in the style of this reference:\n{style}"
INSTRUCTIONS = "\nThe client's instructions:\n{instructions}"
OFFLINE_TRANSLATION_NOTE = ("No translation model was available (Parley is running its "
                            "offline model): the text was NOT translated. Only the "
                            "glossary terms found in it were replaced.")
OFFLINE_CREATION_NOTE = ("No language model was available (Parley is running its offline "
                         "model): no content was written. The material is laid out as a "
                         "draft to write from.")


def run_job(work: JobInput, provider: Provider, max_tokens: int,
            on_text: OnText | None = None, on_event=None) -> JobResult:
    """The job's result (it reports nothing but its text: on_event is unused)."""
    source_text = _source_text(work)
    if provider.name == "offline":
        return _offline(work, provider, source_text, on_text)
    result = provider.generate(_request(work, source_text, max_tokens), on_text=on_text)
    return JobResult(result.text, result.model, result.input_tokens, result.output_tokens,
                     details=_details(work, source_text, result.text, produced_by_model=True))


def _source_text(work: JobInput) -> str:
    if work.mode == briefings.TRANSLATION:
        return work.briefing["text"]
    material = work.briefing.get("input_material") or {}
    return "\n".join(f"{name}: {value}" for name, value in material.items())


def _request(work: JobInput, source_text: str, max_tokens: int) -> LLMRequest:
    briefing = work.briefing
    terms = "\n".join(f"- {source} → {target}" for source, target in work.glossary_terms)
    system = (TRANSLATE if work.mode == briefings.TRANSLATION else CREATE).format(
        source=briefings.language_name(briefing.get("source_lang")),
        target=briefings.language_name(briefing.get("target_lang")),
        domain=briefing.get("domain", "general"), tone=briefing.get("tone", "neutral"),
        content_type=briefing.get("content_type", "text"),
        glossary=GLOSSARY.format(terms=terms) if terms else "",
        style=STYLE.format(style=work.style_reference) if work.style_reference else "",
        instructions=(INSTRUCTIONS.format(instructions=briefing["instructions"])
                      if briefing.get("instructions") else ""))
    # A translation is about as long as its text: room for it, whatever the default.
    room = max(max_tokens, min(len(source_text) // 2, 64_000))
    return LLMRequest(system=system, messages=[{"role": "user", "content": source_text}],
                      question=source_text, max_tokens=room)


def _offline(work: JobInput, provider: Provider, source_text: str,
             on_text: OnText | None) -> JobResult:
    if work.mode == briefings.TRANSLATION:
        text = _apply_terms(source_text, work.glossary_terms)
    else:
        text = json.dumps(work.briefing.get("input_material") or {}, ensure_ascii=False,
                          indent=2)
    said = provider.generate(LLMRequest(system="", messages=[{"role": "user", "content": ""}],
                                        question=text, kind="recite"), on_text=on_text)
    return JobResult(said.text, said.model, said.input_tokens, said.output_tokens,
                     details=_details(work, source_text, text, produced_by_model=False))


def _term_pattern(term: str) -> re.Pattern:
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)


def _apply_terms(text: str, terms: list[tuple[str, str]]) -> str:
    """Each glossary term found in the text replaced by its target (longest first, so
    a term inside a longer one does not break it)."""
    for source, target in sorted(terms, key=lambda pair: -len(pair[0])):
        text = _term_pattern(source).sub(target, text)
    return text


def _details(work: JobInput, source_text: str, output: str, produced_by_model: bool) -> dict:
    applied = [{"source": source, "target": target} for source, target in work.glossary_terms
               if _term_pattern(source).search(source_text)
               and _term_pattern(target).search(output)]
    details = {"mode": work.mode, "target_lang": work.briefing.get("target_lang"),
               "glossary_terms_applied": applied, "model_available": produced_by_model}
    if work.mode == briefings.TRANSLATION:
        details.update(source_lang=work.briefing.get("source_lang"),
                       translated=produced_by_model)
    if not produced_by_model:
        details["note"] = (OFFLINE_TRANSLATION_NOTE if work.mode == briefings.TRANSLATION
                           else OFFLINE_CREATION_NOTE)
    return details
