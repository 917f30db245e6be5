"""The organization's resources a briefing may point at: glossaries (languages and
terms), style references (a text to write like), presets (a partial briefing applied
when a session starts) and templates (a saved briefing; confirm can save one). One
table and one set of operations for the four kinds; each kind's data is its own."""

from sqlalchemy import select

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import BriefingResource
from app.models.base import public_id, utcnow
from app.models.dialog_sessions import GLOSSARY, PRESET, STYLE_REF, TEMPLATE
from app.services import briefings, injection
from app.services.briefings import Resource, Resources

# The prefix of each kind's ids, which also tells the kind of an id.
PREFIXES = {GLOSSARY: "gls", STYLE_REF: "sty", PRESET: "pre", TEMPLATE: "tpl"}
NAMES = {GLOSSARY: "Glossary", STYLE_REF: "Style reference", PRESET: "Preset",
         TEMPLATE: "Template"}


def refuse_injection(value, what: str) -> None:
    """422 when any text in `value` (a string, or the strings of an object or list)
    looks like a prompt injection: whatever a briefing holds reaches a model's prompt."""
    for text in _texts(value):
        reason = injection.detect(text)
        if reason is not None:
            raise InvalidInput(f"Potential prompt injection detected: {reason}. {what} was "
                               "not stored; rephrase it as a description of what you need.",
                               code="prompt_injection")


def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def create(org_id: str, kind: str, name: str, data: dict) -> BriefingResource:
    refuse_injection([name, data], f"The {NAMES[kind].lower()}")
    if kind in (PRESET, TEMPLATE):
        data = {"briefing": checked_briefing(org_id, data["briefing"])}
    resource = add(org_id, kind, name, data)
    db.session.commit()
    return resource


def add(org_id: str, kind: str, name: str, data: dict) -> BriefingResource:
    """A new resource in the caller's transaction (not committed)."""
    resource = BriefingResource(public_id=public_id(PREFIXES[kind]), org_id=org_id,
                                kind=kind, name=name, data=data)
    db.session.add(resource)
    db.session.flush()
    return resource


def checked_briefing(org_id: str, values: dict) -> dict:
    """A preset's or template's briefing fields, each checked as the agent's are (the
    glossaries and style references it names must be the organization's); a field
    the briefing does not take is a 422 naming it."""
    resources = resources_of(org_id)
    checked = {}
    for name, value in values.items():
        try:
            if name == "mode":
                if value not in briefings.MODES:
                    raise briefings.Rejected(f"mode is one of {', '.join(briefings.MODES)}.")
                checked[name] = value
            else:
                checked[name] = briefings.check_value(name, value, resources)
        except briefings.Rejected as exc:
            raise InvalidInput(f"Invalid request: briefing.{name}: {exc}",
                               {"json": {"briefing": {name: [str(exc)]}}}) from exc
    return checked


def get(org_id: str, kind: str, resource_id: str) -> BriefingResource:
    """One of the organization's resources of that kind; anything else is not found."""
    resource = db.session.scalar(select(BriefingResource).where(
        BriefingResource.public_id == resource_id, BriefingResource.org_id == org_id,
        BriefingResource.kind == kind))
    if resource is None:
        raise NotFound(f"{NAMES[kind]} {resource_id} not found.")
    return resource


def find(org_id: str, kind: str, resource_id) -> BriefingResource | None:
    try:
        return get(org_id, kind, resource_id) if isinstance(resource_id, str) else None
    except NotFound:
        return None


def page(org_id: str, kind: str, limit: int, after: str | None) -> list[BriefingResource]:
    """The organization's resources of a kind, oldest first, after the cursor."""
    query = select(BriefingResource).where(BriefingResource.org_id == org_id,
                                           BriefingResource.kind == kind)
    if after:
        query = query.where(BriefingResource.id > get(org_id, kind, after).id)
    return list(db.session.scalars(query.order_by(BriefingResource.id).limit(limit)))


def delete(org_id: str, kind: str, resource_id: str) -> None:
    db.session.delete(get(org_id, kind, resource_id))
    db.session.commit()


def resources_of(org_id: str) -> Resources:
    """The organization's glossaries and style references, as a briefing names them."""
    rows = db.session.execute(
        select(BriefingResource.public_id, BriefingResource.kind, BriefingResource.name,
               BriefingResource.data)
        .where(BriefingResource.org_id == org_id,
               BriefingResource.kind.in_((GLOSSARY, STYLE_REF)))
        .order_by(BriefingResource.id))
    glossaries, style_refs = [], []
    for resource_id, kind, name, data in rows:
        if kind == GLOSSARY:
            glossaries.append(Resource(resource_id, name, data.get("source_lang"),
                                       data.get("target_lang")))
        else:
            style_refs.append(Resource(resource_id, name))
    return Resources(tuple(glossaries), tuple(style_refs))


def glossary_terms(org_id: str, glossary_ids: list[str]) -> list[tuple[str, str]]:
    """The terms of these glossaries, in order (a glossary deleted since is skipped)."""
    terms = []
    for glossary_id in glossary_ids:
        glossary = find(org_id, GLOSSARY, glossary_id)
        if glossary is not None:
            terms += [(term["source"], term["target"]) for term in glossary.data["terms"]]
    return terms


def style_text(org_id: str, style_ref_id: str | None) -> str | None:
    style = find(org_id, STYLE_REF, style_ref_id)
    return style.data.get("text") if style else None
