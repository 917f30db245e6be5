"""Offline extraction: the briefing fields a user's message proposes, read from their
words by fixed rules, no model. The offline briefing agent (briefing.py) checks each
proposed value with the briefing's rules (app/services/briefings.check_value) and turns
a refused one into a warning; this module only reads.

What it reads, in this order, so that no word is read twice:
  1. the material — translation: the text to translate (the whole message when the
     agent asked for it, else text after a lead-in such as "Text:" or "Translate this:",
     after a line ending with a colon, or in quotes); creation: "name: value" lines
     (or a JSON object) when the agent asked for the material or a lead-in announces
     it. Nothing inside the material is read as a setting.
  2. instructions — "Instructions: ..." and clauses that start like one ("Keep ...",
     "Don't ...", "Use British spelling", "Avoid ...", "Make sure ...", German, French
     and Spanish alike). A clause made only of settings ("Use the Legal glossary",
     "Keep it formal") is read as those settings instead.
  3. settings, in the rest: the organization's glossaries and style references by
     name or id, the content type (creation), languages with their direction, domain
     and tone, in English, German, French and Spanish. A negated mention ("not formal",
     "no glossary", "rather than formal") sets nothing.

`asked` is the field the agent's previous question asked for: it decides what a bare
answer means (a lone language after "Which language is the text written in?" is the
source; a whole message after "Please paste the text" is the text).
"""

import itertools
import json
import re
from dataclasses import dataclass

from app.services.briefings import CREATION, LANGUAGES, Resources

# -- words -------------------------------------------------------------------------------

_B, _E = r"(?<![\w])", r"(?!\w)"  # word edges that know letters beyond ASCII

# Each code's names in English, German, French and Spanish (German adjectives in -isch
# and "deutsch" take their endings: ins Englische, aus dem Deutschen).
_LANGUAGE_NAMES = {
    "ar": "arabic arabisch arabe árabe",
    "bg": "bulgarian bulgarisch bulgare búlgaro bulgaro",
    "cs": "czech tschechisch tchèque tcheque checo",
    "da": "danish dänisch danois danoise danés danes",
    "de": "german deutsch allemand allemande alemán aleman",
    "el": "greek griechisch grec grecque griego",
    "en": "english englisch anglais anglaise inglés ingles",
    "es": "spanish castilian spanisch espagnol espagnole español española espanol castellano",
    "et": "estonian estnisch estonien estonienne estonio",
    "fi": "finnish finnisch finnois finnoise finlandés finlandes",
    "fr": "french französisch franzosisch français française francais francaise francés "
          "frances",
    "hu": "hungarian ungarisch hongrois hongroise húngaro hungaro",
    "it": "italian italienisch italien italienne italiano",
    "ja": "japanese japanisch japonais japonaise japonés japones",
    "ko": "korean koreanisch coréen coréenne coreen coreano",
    "lt": "lithuanian litauisch lituanien lituanienne lituano",
    "lv": "latvian lettisch letton lettone letón leton",
    "nl": "dutch flemish niederländisch niederlandisch holländisch flämisch néerlandais "
          "néerlandaise neerlandais neerlandés holandés",
    "no": "norwegian norwegisch norvégien norvégienne noruego",
    "pl": "Polish polnisch polonais polonaise polaco",
    "pt": "portuguese portugiesisch portugais portugaise portugués portugues",
    "ro": "romanian rumänisch roumain roumaine rumano",
    "ru": "russian russisch russe ruso",
    "sk": "slovak slowakisch slovaque eslovaco",
    "sl": "slovenian slovene slowenisch slovène esloveno",
    "sv": "swedish schwedisch suédois suédoise sueco",
    "tr": "turkish türkisch turc turque turco",
    "uk": "ukrainian ukrainisch ukrainien ukrainienne ucraniano",
    "zh": "chinese mandarin chinesisch chinois chinoise chino mandarín",
}
assert set(_LANGUAGE_NAMES) <= set(LANGUAGES)


def _name_pattern(word: str) -> str:
    if word.endswith("isch") or word == "deutsch":
        return re.escape(word) + r"(?:e[nmrs]?)?"
    return re.escape(word)


_LANGUAGE_RES = [
    (code, re.compile(_B + "(?:" + "|".join(_name_pattern(w) for w in sorted(
        names.split(), key=len, reverse=True)) + ")" + _E, re.IGNORECASE))
    for code, names in _LANGUAGE_NAMES.items()]
# "Polish the text" is no language: the verb takes an object.
_POLISH_VERB = re.compile(r"polish\s+(?:the|this|it|my|our|up|that|these|them)\b", re.IGNORECASE)
_CODE_RE = re.compile(r"(?<![\w-])([a-z]{2})(?:[-_]([a-z]{2,4}))?(?!\w)", re.IGNORECASE)

_SOURCE_LABEL = re.compile(
    r"(?:\bsource(?:[\s_-]*lang(?:uage)?)?|\bausgangssprache|\bquellsprache|"
    r"\blangue\s+(?:source|de\s+d[ée]part)|\bidioma\s+(?:de\s+)?origen)"
    r"\s*(?:[:=]|\bis\b|\bist\b|\best\b|\bes\b)?\s*$", re.IGNORECASE)
_TARGET_LABEL = re.compile(
    r"(?:\btarget(?:[\s_-]*lang(?:uage)?)?|\bzielsprache|\blangue\s+(?:cible|d['’]arriv[ée]e)|"
    r"\bidioma\s+(?:de\s+)?destino|\boutput\s+language)"
    r"\s*(?:[:=]|\bis\b|\bist\b|\best\b|\bes\b|\bshould\s+be\b)?\s*$", re.IGNORECASE)
# Said of the text to translate: "the text is in German", "written in French", "a
# German text", "un texte en allemand" — its source language.
_TEXT_IS = re.compile(
    r"(?:\b(?:text|texte|texto|original|document|dokument|it|this|das|es|il|ce|c['’]|el)\s*"
    r"(?:is|['’]s|ist|est|es|est[aá])\s+(?:(?:in|auf|en)\s+)?|"
    r"\b(?:written|geschrieben|verfasst|[ée]crit|escrito|redactado)\s+(?:in|auf|en)\s+|"
    r"\b(?:text|texte|texto|original|dokument|document)\s+(?:(?:in|en|auf)\s+)?)$", re.IGNORECASE)
_TEXT_AFTER = re.compile(r"^\s*(?:text|texts|texte|texto|original|source|dokument|document)\b",
                         re.IGNORECASE)
_SOURCE_CUE = re.compile(
    r"(?:\bfrom|\baus(?:\s+de[mr])?|\bvom|\bvon(?:\s+de[mr])?|\bdu|\bde\s+l['’]|\bd['’]|"
    r"\bde|\bdel|\bdesde(?:\s+el)?)\s*$", re.IGNORECASE)
_TARGET_CUE = re.compile(
    r"(?:\bto|\binto|\bins|\bnach|\bin\s+(?:das|die)|\bzu[mr]?|"
    r"\bvers(?:\s+l['’]|\s+le|\s+la)?|\bal|\bau|→|->|=>|⇒|>|\bshould\s+be(?:\s+in)?|"
    r"\bsoll(?:te)?\s+(?:auf|in)|\btranslated?\s+in|\bübersetz\w*\s+(?:auf|in))\s*$", re.IGNORECASE)
_WEAK_TARGET = re.compile(r"(?:\bin|\ben|\bauf)\s*$", re.IGNORECASE)
_PAIR = re.compile(
    r"\s*(?:to|into|ins|nach|in|zu[mr]?|vers|en|al|au|→|->|=>|⇒|>|[-–—/])\s*"
    r"(?:(?:the|le|la|el|das|dem|den|die)\s+|l['’]\s*)?", re.IGNORECASE)
_SYMBOLIC_PAIR = re.compile(r"\s*(?:→|->|=>|⇒|>|[-–—/]|to|into)\s*", re.IGNORECASE)


def _table(entries: dict[str, str]) -> list[tuple[str, re.Pattern]]:
    return [(value, re.compile(_B + "(?:" + pattern + ")" + _E, re.IGNORECASE))
            for value, pattern in entries.items()]


_CONTENT_TYPES = _table({
    "product description":
        r"product\s+descriptions?|product\s+(?:text|copy)|produktbeschreibung\w*|"
        r"produkttext\w*|artikelbeschreibung\w*|descriptions?\s+(?:de|du|des)\s+produits?|"
        r"fiche\s+produit|descripci[oó]n(?:es)?\s+(?:de|del)\s+(?:los\s+)?productos?",
    "blog post":
        r"blog[\s-]*(?:posts?|articles?|entr(?:y|ies)|artikel|beitr[äa]g\w*)|blogpost\w*|"
        r"article\s+de\s+blog|billet\s+de\s+blog|art[ií]culo\s+(?:de|del|para\s+el)\s+blog|"
        r"entrada\s+(?:de|del)\s+blog|blog",
    "social media post":
        r"social[\s-]*media(?:[\s-]*(?:posts?|beitr[äa]g\w*|texts?))?|social\s+posts?|"
        r"(?:posts?|beitr[äa]g\w*|captions?)\s+(?:for|on|auf|für|pour|sur|para|en)\s+"
        r"(?:instagram|linkedin|facebook|twitter|x|tiktok|threads)|"
        r"(?:instagram|linkedin|facebook|twitter|tiktok)(?:[\s-]*(?:posts?|beitr[äa]g\w*|"
        r"captions?))?|tweets?|r[ée]seaux\s+sociaux|redes\s+sociales|soziale[n]?\s+medien",
    "newsletter": r"newsletters?|rundbrief\w*|rundschreiben|bolet[ií]n|"
                  r"lettre\s+d['’]information",
    "landing page": r"landing[\s-]*pages?|landingpage\w*|page\s+d['’]atterrissage|"
                    r"p[aá]gina\s+de\s+aterrizaje|zielseite",
    "ad copy": r"ad\s+copy|ads?\s+texts?|advert(?:isement)?s?|google\s+ads?|"
               r"anzeigen?(?:text\w*)?|werbetext\w*|werbeanzeige\w*|"
               r"annonces?(?:\s+publicitaires?)?|texte\s+publicitaire|anuncios?|"
               r"texto\s+publicitario",
    "email": r"e-?mails?|courriels?|correos?(?:\s+electr[oó]nicos?)?",
})
_DOMAINS = _table({
    "marketing": r"marketing|advertising|promotional|werbung|werblich\w*|publicit[ée]|"
                 r"publicidad|mercadotecnia|campaigns?|kampagnen?|campagnes?|campa[ñn]as?",
    "legal": r"legal|law|lawyers?|juristisch\w*|rechtlich\w*|rechtstext\w*|vertr[äa]g\w*|"
             r"contracts?|agbs?|terms\s+(?:and|&)\s+conditions|terms\s+of\s+(?:service|use)|"
             r"privacy\s+polic(?:y|ies)|datenschutz\w*|juridiques?|jur[ií]dic[oa]s?|"
             r"contrats?|contratos?|l[ée]gal(?:e|es)?|mentions\s+l[ée]gales",
    "technical": r"technical|technisch\w*|technik|manuals?|user\s+guides?|documentation|"
                 r"dokumentation\w*|handb[üu]ch\w*|bedienungsanleitung\w*|anleitung\w*|"
                 r"datasheets?|datenbl[äa]tt\w*|techniques?|manuel(?:s)?|t[ée]cnic[oa]s?|"
                 r"manual(?:es)?|documentaci[oó]n|software|engineering",
    "medical": r"medical|medicine|medizinisch\w*|medizin|pharma\w*|clinical|klinisch\w*|"
               r"health\s*care|m[ée]dical(?:e|es|aux)?|m[ée]dic[oa]s?|sanitari[oa]s?|"
               r"gesundheit\w*|sant[ée]",
    "e-commerce": r"e-?commerce|e\s+commerce|online[\s-]*(?:shop|store)s?|onlineshop\w*|"
                  r"web[\s-]*(?:shop|store)s?|shops?|shopify|marketplaces?|"
                  r"product\s+(?:pages?|listings?)|boutique\s+en\s+ligne|vente\s+en\s+ligne|"
                  r"tienda\s+(?:online|en\s+l[ií]nea)|comercio\s+electr[oó]nico|"
                  r"online-?handel|versandhandel",
    "financial": r"financial|finances?|finanzen|finanz\w*|banking|banks?|insurance|"
                 r"versicherung\w*|accounting|buchhaltung|annual\s+reports?|"
                 r"gesch[äa]ftsbericht\w*|investors?|financi[eè]re?s?|finanzas|"
                 r"financier[oa]s?|bancari[oa]s?|banque",
    "scientific": r"scientific|science|research|academic|wissenschaft\w*|forschung\w*|"
                  r"akademisch\w*|scientifiques?|recherche|cient[ií]fic[oa]s?|ciencia|"
                  r"investigaci[oó]n|acad[ée]mi\w*",
    "general": r"(?<!in\s)(?<!im\s)(?<!en\s)(?:general|generic|allgemein\w*|"
               r"g[ée]n[ée]ral(?:e|es)?|gen[ée]ric[oa]|everyday|alltag\w*)",
})
_TONES = _table({
    "formal": r"formal(?:es|ly)?|f[öo]rmlich\w*|formell\w*|[\"'„“]?sie[\"'“”]?[\s-]*form|"
              r"per\s+sie|siez\w*|gesiezt|formel(?:le|les|s)?|vouvoi\w*|vouvoy\w*|"
              r"(?:de\s+)?usted|polite(?:ly)?|h[öo]flich\w*",
    "informal": r"informal(?:es|ly)?|casual(?:ly)?|relaxed|laid[\s-]*back|locker\w*|"
                r"l[äa]ssig\w*|informell\w*|[\"'„“]?du[\"'“”]?[\s-]*form|per\s+du|duzen|"
                r"duzt|geduzt|informel(?:le|les|s)?|tutoi\w*|tutoy\w*|"
                r"d[ée]contract[ée]e?s?|coloquial|tuteo|tutear|desenfadad[oa]",
    "friendly": r"(?<!-)(?:friendly|warm|freundlich\w*|herzlich\w*|amical(?:e|es)?|"
                r"chaleureu\w*|amigable|amable|cercan[oa]|cordial\w*)",
    "neutral": r"(?<!-)(?:neutral(?:e)?|sachlich\w*|objective|factual|neutre|neutro|"
               r"objetiv[oa]|objecti(?:f|ve)|nüchtern)",
    "professional": r"(?:professional(?:ly)?|professionell\w*|professionnel(?:le)?|profesional|"
                    r"business[\s-]?like|seri[öo]s\w*|s[ée]rieux|corporate)"
                    r"(?!\w)(?!\s+(?:translat|übersetz|traduc))",
    "persuasive": r"persuasive|convincing|salesy|sales[\s-]?oriented|überzeugend\w*|"
                  r"verkaufsstark\w*|persuasif|convaincant\w*|persuasiv[oa]|convincente",
    "playful": r"playful|fun|funny|witty|humou?rous|cheeky|verspielt\w*|witzig\w*|"
               r"humorvoll\w*|lustig\w*|ludique|espi[eè]gle|dr[ôo]le|juguet[oó]n\w*|"
               r"divertid[oa]|l[úu]dic[oa]|humor[ií]stic[oa]",
})
# A bare answer to the question that asked for the field.
_BARE = {
    "tone": {"sie": "formal", "vous": "formal", "usted": "formal", "du": "informal",
             "tu": "informal", "tú": "informal"},
    "content_type": {"description": "product description", "post": "social media post",
                     "article": "blog post", "artikel": "blog post", "ad": "ad copy",
                     "ads": "ad copy", "mail": "email", "landing": "landing page"},
}

_GLOSSARY_CUE = (r"glossar\w*|glossaire|glosario|terminolog\w*|termbase|term\s*list|"
                 r"word\s*list|fachbegriffe|terms")
_STYLE_CUE = r"style\w*|stil\w*|estilo|voice|referen\w*|guide\w*|leitfaden"
_QUOTES = "\"'“”„‘’«»"

_NEGATORS = {"not", "no", "never", "without", "nicht", "kein", "keine", "keinen", "keiner",
             "ohne", "nie", "niemals", "pas", "sans", "jamais", "ni", "sin", "nunca", "less",
             "weniger", "moins", "menos", "avoid", "vermeide", "vermeiden", "évitez", "évite",
             "evita", "evite", "dont", "neither", "nor", "weder", "noch"}
_NEGATED_BEFORE = re.compile(r"(?:rather\s+than|instead\s+of|(?:an)?statt|plut[ôo]t\s+que|"
                             r"en\s+(?:lugar|vez)\s+de)\s*$", re.IGNORECASE)
_CONTRAST = re.compile(r"[,;:.!?\n()\[\]]|\b(?:but|aber|sondern|mais|sino|pero)\b", re.IGNORECASE)

# Words that may stand around settings in a message that only gives settings
# ("formal tone please", "Make sure the tone is friendly").
_FILLER = set("""
a an the and or but also please pls thanks thank it its s is are be should would could will
can i we our my me us you your this that for to into in from of on with as so just like
want need needs make sure keep use write translate translated translation language languages
lang text tone domain field sector area industry style type content glossary reference yes
ok okay sure actually sorry source target set bit very rather quite more mainly mostly then
now here there one same kind something do don dont t not no never without less too please
bitte danke der die das den dem des ein eine einen einem einer und oder aber auch es ist sind
sein soll sollte wir ich unser unsere unseren unserem für fuer von vom aus nach ins im auf zu
zum zur mit als ja übersetzen übersetzung übersetzt sprache zielsprache ausgangssprache ton
tonalität stil bereich domäne branche glossar schreiben schreibe gerne gern mal eher sehr
nicht kein keine keinen ohne weniger form le la les l un une des du de et ou mais aussi il
vous plaît plait merci c est ce cette pour vers en au aux avec texte traduire traduction
traduis traduisez langue cible ton domaine secteur glossaire je nous notre nos voudrais veux
oui pas sans moins el los las y pero también por favor gracias son para al del con texto
traducir traducción traduce idioma destino origen tono estilo dominio glosario quiero
necesito nuestro nuestra sí sin menos
these following below based facts data verwenden benutzen nutzen verwende schreib schreibt
verfasse erstelle create écris écrivez rédige utiliser utilisez usar usa escribe redacta crea
glossaries glossare glossaires glosarios references styles
""".split())

# Words of a lead-in to a pasted text ("Could you translate this for me:").
_LEAD_WORDS = set("""
text texts texte textes texto textos translate translation übersetze übersetzen übersetzung
traduire traduis traduisez traduce traducir traduzca content copy passage wording hi hello
hey hallo bonjour hola can could you me help kannst du können sie kannst pouvez pouvez-vous
puedes puede following folgenden folgende suivant siguiente below paste pasted here's
""".split())

# Clauses that are instructions: they start like one, or say what not to translate.
_STARTER = (
    r"(?:(?:please|pls|also|and|but|bitte|auch|und|aber|merci\s+de|por\s+favor)[\s,]+)*"
    r"(?:keep|don['’]?t|do\s+not|never|always|avoid|make\s+sure|ensure|be\s+sure|leave|"
    r"preserve|retain|use|write|mention|include|add|stick\s+to|follow|prefer|spell|address|"
    r"refer|replace|omit|remove|capitali[sz]e|behalte\w*|belasse\w*|"
    r"\w+\s+[\"“„«][^\"”“»\n]+[\"”“»]\s+(?:as|als|par|por|como)|"  # "Cart" as "Warenkorb"
    r"lass\w*|verwende\w*|benutze\w*|nutze\w*|vermeide\w*|achte\w*|schreib\w*|immer|nie|"
    r"niemals|keine?[nrms]?|garde[rz]?|conserve[rz]?|utilise[rz]?|[ée]vite[rz]?|veille[rz]?|"
    r"assure[rz]?|ne|n['’]\w+|jamais|toujours|[ée]cri[st]|[ée]crivez|mant[eé]n\w*|"
    r"utiliza\w*|usa[rd]?|evita\w*|aseg[uú]r\w*|nunca|siempre|escrib\w*|no\s+(?:traduzc|"
    r"uses|utilices)\w*)" + _E)
_STARTS_INSTRUCTION = re.compile(r"[\s\-*•]*" + _STARTER, re.IGNORECASE)
_SAYS_INSTRUCTION = re.compile(
    r"\b(?:do\s+not|don['’]?t|never|nicht|pas|no)\s+(?:translate|übersetz\w*|tradu\w*)|"
    r"\bnicht\s+(?:zu\s+)?übersetz\w*|\bbei(?:zu)?behalten\b|\b(?:untranslated|unübersetzt)\b",
    re.IGNORECASE)
_CLAUSE_BREAK = re.compile(
    r"(?:,\s*(?:(?:and|but|und|aber|sowie|et|mais|y|pero)\s+)?|"
    r"\s(?:and|but|und|aber|sowie|et|mais|y|pero)\s+)(?=" + _STARTER + ")", re.IGNORECASE)
_PART_BREAK = re.compile(r",\s*|\s(?:and|und|sowie|et|y)\s+", re.IGNORECASE)
_INSTRUCTIONS_LABEL = re.compile(
    r"(?<![\w-])(?:(?:additional|special|further|other)\s+)?(?:instructions?|notes?|"
    r"anweisung(?:en)?|hinweise?|consignes?|instrucciones|instrucción|indicaciones|notas?)"
    r"\s*:[ \t]*", re.IGNORECASE)

# Lead-ins announcing the text or the material, and labels that are not either.
_TEXT_LEAD = re.compile(r"\b(?:text\w*|texte|texto|translat\w*|übersetz\w*|tradu\w*|copy|"
                        r"content|inhalt|passage|wording)\b", re.IGNORECASE)
_HERE_LEAD = re.compile(r"here|here's|hier|voici|voil[àa]|aqu[ií]|est[aá]|folgend\w*|following|"
                        r"suivant\w*|siguiente\w*|below|unten|ci-dessous|sure|ok|okay|klar|"
                        r"gern\w*|claro|go|goes|you", re.IGNORECASE)
_NOT_TEXT_LEAD = re.compile(
    r"\b(?:instructions?|notes?|hinweis\w*|anweisung\w*|consignes?|instrucci\w*|notas?|"
    r"glossar\w*|glossaire|glosario|style|stil|estilo|tone|ton|tono|domain|domäne|dominio|"
    r"domaine|bereich|source|target|ziel\w*|ausgangs\w*|quell\w*|cible|destino|origen|"
    r"language|sprache|langue|idioma|requirements?|anforderung\w*|preferences?|details?|"
    r"settings?|briefing|wunsch|wünsche|names?|terms?)\b", re.IGNORECASE)
_MATERIAL_LEAD = re.compile(r"\b(?:data|daten|facts?|fakten|material\w*|info\w*|details?|"
                            r"product\w*|produkt\w*|donn[ée]es|datos|caract[ée]r\w*|features?|"
                            r"merkmale|eckdaten|specs?|specifications?)\b", re.IGNORECASE)
_NOT_MATERIAL_NAME = re.compile(
    r"(?:(?:target|source)(?:[\s_-]*lang(?:uage)?)?|languages?|sprache|zielsprache|"
    r"ausgangssprache|langue|idioma|tone|ton|tonalität|tono|domain|domäne|domaine|dominio|"
    r"bereich|glossary|glossar|glossaire|glosario|style(?:[\s_-]*ref(?:erence)?)?|stil|"
    r"estilo|instructions?|notes?|hinweise?|anweisungen?|consignes?|instrucciones|notas?|"
    r"text|texte|texto|type|content[\s_-]*type|format|textart|art|typ|mode)", re.IGNORECASE)
_PAIR_LINE = re.compile(r"^[ \t]*(?:[-*•][ \t]*)?(?P<name>[^\n:=]{1,40}?)[ \t]*[:=][ \t]*"
                        r"(?P<value>[^\n]*\S)[ \t]*$", re.MULTILINE)
_QUOTED = re.compile(r"“([^”\n]+)”|„([^“”\n]+)[“”]|«\s*([^»\n]+?)\s*»|»([^«\n]+)«|"
                     r"\"([^\"\n]+)\"|```\w*\n?(.+?)```", re.DOTALL)
_TRANSLATE_VERB = re.compile(r"\b(?:translat\w*|übersetz\w*|tradu\w*)\b", re.IGNORECASE)

# A few words per language, to tell which language a text is in.
_STOPWORDS = {code: set(words.split()) for code, words in {
    "en": "the and of to is for with our you your we are this that",
    "de": "der die das und ist für mit unsere sie wir nicht ein eine zu den von auf",
    "fr": "le les et est pour avec nos notre vous des une du dans sur",
    "es": "el los las y es para con nuestros nuestra usted una del por",
    "it": "il lo gli e è per con nostri nostra della che sono",
}.items()}


# -- the reading ------------------------------------------------------------------------

@dataclass
class _Hit:
    field: str  # language, content_type, domain, tone, glossary, style_ref
    value: str
    start: int
    end: int
    negated: bool = False
    role: str | None = None  # languages: source, target, weak (in/en/auf X) or None
    code: bool = False  # a language written as its code
    upper: bool = False  # ... in capitals or with its region (EN, en-GB)


@dataclass(frozen=True)
class _Context:
    mode: str
    briefing: dict
    resources: Resources
    asked: str | None
    bare: bool = False  # the whole message is one word (a bare answer)


def extract(message: str, briefing: dict, resources: Resources, asked: str | None) -> dict:
    """The field values `message` proposes for `briefing`, as {field: value}: language
    codes, domain/tone/content type as the briefing names them, resource ids, the text
    or the material, and the message's own instructions (new ones only: the agent
    appends them to the briefing's)."""
    if not isinstance(message, str) or not message.strip():
        return {}
    words = re.findall(r"[\w'’-]+", message)
    ctx = _Context(briefing.get("mode"), briefing, resources, asked, bare=len(words) == 1)
    found: dict = {}
    masked = message
    if ctx.mode == CREATION:
        material, zones = _material(message, ctx)
        if material:
            found["input_material"] = material
    else:
        text, zones = _text(message, ctx)
        if text:
            found["text"] = text
    masked = _mask(masked, zones)
    instructions, masked, named = _instructions(masked, ctx)
    hits = sorted([*_hits(masked, ctx), *named], key=lambda hit: hit.start)
    found.update(_settings(hits, masked, ctx, found.get("text")))
    if instructions:
        found["instructions"] = instructions
    if asked in _BARE and asked not in found:
        bare = _BARE[asked].get(message.strip(" .!?\"'").lower())
        if bare:
            found[asked] = bare
    return found


def _mask(text: str, zones) -> str:
    """`text` with the zones blanked (newlines: nothing reads across them)."""
    for start, end in zones:
        text = text[:start] + "\n" * (end - start) + text[end:]
    return text


# -- material: the text to translate -----------------------------------------------------

def _text(message: str, ctx: _Context) -> tuple[str | None, list]:
    """The text to translate the message gives, and where it stands."""
    for colon in re.finditer(r":(?=\s)", message):
        body_start = colon.end() + len(message[colon.end():]) - len(
            message[colon.end():].lstrip())
        body = message[body_start:].rstrip()
        if not body:
            continue
        lead = _lead(message, colon.start())
        if len(lead.split()) > 12 or _NOT_TEXT_LEAD.search(lead) \
                or _STARTS_INSTRUCTION.match(lead):
            continue
        own_line = "\n" in message[colon.end():body_start]
        if ctx.asked == "text":  # a lead-in opens the message: the text's own colons stay
            before = message[:message.rfind(lead, 0, colon.start())]
            announced = (not before.strip() or _only_settings(before, ctx, limit=30)) \
                and _lead_in(lead, ctx)
        else:
            announced = _lead_in(lead, ctx) and (_TEXT_LEAD.search(lead) or own_line)
        if announced and not _only_settings(body, ctx, limit=30):
            return _paragraphs(message, body_start, len(message), ctx)
    if ctx.asked == "text":
        if _only_settings(message, ctx, limit=12):
            return None, []
        return _paragraphs(message, 0, len(message), ctx)
    for quoted in _QUOTED.finditer(message):
        content = next(g for g in quoted.groups() if g is not None).strip()
        if _quoted_text(message, quoted, content, ctx):
            return content, [quoted.span()]
    return None, []


def _paragraphs(message: str, start: int, end: int, ctx: _Context) -> tuple[str, list]:
    """The text from `start` to `end`, without a first or last paragraph that only
    gives settings ("...text...\n\nMarketing, friendly")."""
    cuts = [start, *(start + m.end() for m in re.finditer(r"\n[ \t]*\n\s*",
                                                            message[start:end])), end]
    paragraphs = [(a, b) for a, b in itertools.pairwise(cuts)]
    while len(paragraphs) > 1 and _only_settings(message[slice(*paragraphs[0])], ctx, 12):
        paragraphs.pop(0)
    while len(paragraphs) > 1 and _only_settings(message[slice(*paragraphs[-1])], ctx, 12):
        paragraphs.pop()
    start, end = paragraphs[0][0], paragraphs[-1][1]
    return _unquoted(message[start:end]), [(start, end)]


def _lead_in(lead: str, ctx: _Context) -> bool:
    """Whether the words before a colon only announce what follows ("Here is the text",
    "Please translate into English", "Voici le texte"), settings allowed."""
    hits = _hits(lead, ctx)
    rest = _mask(lead, [(h.start, h.end) for h in hits])
    return all(w in _FILLER or w in _LEAD_WORDS or _HERE_LEAD.fullmatch(w)
               for w in _words(rest))


def _lead(message: str, end: int) -> str:
    """The words before a colon, back to the start of their line or sentence."""
    start = max(message.rfind("\n", 0, end), *(message.rfind(p, 0, end) for p in ".!?"))
    return message[start + 1:end].strip()


def _unquoted(text: str) -> str:
    text = text.strip()
    for opening, closing in ('""', "“”", "„“", "„”", "«»", "»«"):
        if len(text) > 2 and text[0] == opening and text[-1] == closing \
                and opening not in text[1:-1] and closing not in text[1:-1]:
            return text[1:-1].strip()
    return text


def _quoted_text(message: str, quoted: re.Match, content: str, ctx: _Context) -> bool:
    """Whether a quoted passage is the text to translate: not a resource's name, not
    "translate 'X' as 'Y'", not inside an instruction; said with a verb of translating
    or long enough to be a text."""
    if len(content) < 2 or _resource_named(content, ctx.resources):
        return False
    after = message[quoted.end():quoted.end() + 30]
    if re.match(r"\s*(?:as|als|par|por|como|with|mit|" + _GLOSSARY_CUE + "|" + _STYLE_CUE
                + r")\b", after, re.IGNORECASE):
        return False
    sentence = message[max(message.rfind(p, 0, quoted.start()) for p in ".!?\n;") + 1:
                       quoted.start()]
    if re.search(r"[" + _QUOTES + r"]\s*(?:as|als|par|por|como|with|mit|to|into|in|=|->|→)?\s*$",
                 sentence, re.IGNORECASE):
        return False  # the second of "Cart" as "Warenkorb"
    if _STARTS_INSTRUCTION.match(sentence) or _SAYS_INSTRUCTION.search(sentence) \
            or any(w in _NEGATORS for w in _words(sentence)) \
            or re.search(r"(?:" + _GLOSSARY_CUE + "|" + _STYLE_CUE + r")\W*$", sentence,
                         re.IGNORECASE):
        return False
    if _only_settings(content, ctx, limit=30):
        return False
    return bool(_TRANSLATE_VERB.search(sentence)) or len(content.split()) >= 5


def _resource_named(content: str, resources: Resources) -> bool:
    key = _key(content)
    return any(key in (_key(r.name), _key(r.id))
               for r in (*resources.glossaries, *resources.style_refs))


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


# -- material: what to write from (creation) ---------------------------------------------

def _material(message: str, ctx: _Context) -> tuple[dict | None, list]:
    """The material the message gives: "name: value" lines or a JSON object, when the
    agent asked for it or a lead-in line announces it ("Here is the product data:")."""
    region_start = 0
    if ctx.asked != "input_material":
        lead = re.search(r"^[^\n]*?:[ \t]*\n", message, re.MULTILINE)
        if not lead or not _MATERIAL_LEAD.search(lead.group()):
            return None, []
        region_start = lead.end()
    region = message[region_start:]
    opening, closing = region.find("{"), region.rfind("}")
    if 0 <= opening < closing:
        try:
            value = json.loads(region[opening:closing + 1])
        except ValueError:
            value = None
        if isinstance(value, dict) and value:
            return value, [(region_start + opening, region_start + closing + 1)]
    material, zones = {}, []
    for line in _PAIR_LINE.finditer(region):
        pairs = _pairs(line.group())
        if pairs:
            material.update(pairs)
            zones.append((region_start + line.start(), region_start + line.end()))
    if material:
        return material, zones
    if ctx.asked == "input_material" and not _only_settings(message, ctx, limit=12) \
            and len(_words(message)) >= 3:
        return {"description": message.strip()}, [(0, len(message))]
    return None, []


def _pairs(line: str) -> dict:
    """The "name: value" pairs of one line ("Colour: blue, Weight: 240 g" is two)."""
    found = {}
    for part in re.split(r"[,;]\s*(?=[^\s,;:=][^,;:=\n]{0,38}[:=]\s)", line):
        pair = _PAIR_LINE.match(part)
        if not pair:
            return {}
        name, value = pair.group("name").strip(), pair.group("value").strip()
        if not re.search(r"[^\W\d_]", name) or len(name.split()) > 5 \
                or _NOT_MATERIAL_NAME.fullmatch(name) or "http" in name.lower():
            return {}
        found[name] = value
    return found


# -- instructions ------------------------------------------------------------------------

def _instructions(text: str, ctx: _Context) -> tuple[str | None, str, list[_Hit]]:
    """The message's instructions, the message without them, and the glossaries and
    style references they name ("Use British spelling and the Legal EN glossary")."""
    said, zones, named = [], [], []
    for label in _INSTRUCTIONS_LABEL.finditer(text):
        if any(start <= label.start() < end for start, end in zones):
            continue
        end = text.find("\n", label.end())
        end = len(text) if end < 0 else end
        if not text[label.end():end].strip():  # the instructions follow, one a line
            block = re.search(r"\n[ \t]*\n", text[label.end():])
            end = label.end() + block.start() if block else len(text)
        lines = [_sentence(line) for line in text[label.end():end].split("\n")]
        if any(lines):
            said.append(" ".join(line for line in lines if line))
            zones.append((label.start(), end))
    text = _mask(text, zones)
    for start, end in _clauses(text):
        clause = text[start:end]
        if clause.rstrip().endswith(":") or not (
                _STARTS_INSTRUCTION.match(clause) or _SAYS_INSTRUCTION.search(clause)):
            continue  # a lead-in ("... from these facts:") or no instruction
        start, end = _peeled(text, start, end, ctx)
        clause = text[start:end]
        hits = _hits(clause, ctx)
        if _consumed(clause, hits):
            if any(not hit.negated for hit in hits):
                continue  # "Use the Legal glossary", "Keep it formal": settings
            if not hits:  # "No glossary", "Keep it so": nothing to note
                text = _mask(text, [(start, end)])
                continue
        if not any(h.field in ("glossary", "style_ref") for h in hits) \
                and re.search(r"\b(?:glossar\w*|glossaire|glosario|termbase)\b", clause,
                              re.IGNORECASE):
            text = _mask(text, [(start, end)])  # a glossary the organization lacks
            continue
        said.append(_sentence(clause))
        named += [_Hit(h.field, h.value, start + h.start, start + h.end) for h in hits
                  if h.field in ("glossary", "style_ref") and not h.negated]
        text = _mask(text, [(start, end)])
    existing = (ctx.briefing.get("instructions") or "").lower()
    new = list(dict.fromkeys(s for s in said if s.lower() not in existing))
    return (" ".join(_sentence(s) for s in new) or None), text, named


def _peeled(text: str, start: int, end: int, ctx: _Context) -> tuple[int, int]:
    """The clause without its first or last parts that only give settings: "Bitte die
    Sie-Form verwenden und Markennamen nicht übersetzen" is an instruction from
    "Markennamen" on, and a tone."""
    breaks = [m.span() for m in _PART_BREAK.finditer(text, start, end)]
    parts = [(a, b) for a, b in zip([start, *(e for _, e in breaks)],
                                    [*(b for b, _ in breaks), end]) if text[a:b].strip()]
    while len(parts) > 1 and _settings_only(text[slice(*parts[0])], ctx):
        parts.pop(0)
    while len(parts) > 1 and _settings_only(text[slice(*parts[-1])], ctx):
        parts.pop()
    return (parts[0][0], parts[-1][1]) if parts else (start, end)


def _settings_only(part: str, ctx: _Context) -> bool:
    hits = _hits(part, ctx)
    return any(not hit.negated for hit in hits) and _consumed(part, hits)


def _clauses(text: str):
    """(start, end) of each clause: sentences, split before a clause that starts like
    an instruction (", and please keep ...")."""
    start = 0
    for stop in [*re.finditer(r"[.!?;](?=\s|$)|\n", text), None]:
        end = stop.end() if stop else len(text)
        cut = start
        for brk in _CLAUSE_BREAK.finditer(text, start, end):
            yield cut, brk.start()
            cut = brk.end()
        yield cut, end
        start = end


def _sentence(clause: str) -> str:
    clause = re.sub(r"^[\s\-*•,]*(?:(?:and|but|also|und|aber|et|mais|y|pero)\s+)?", "",
                    clause).strip().rstrip(",;")
    if not clause:
        return clause
    clause = clause[0].upper() + clause[1:]
    return clause if clause[-1] in ".!?" else clause + "."


# -- settings ----------------------------------------------------------------------------

def _hits(text: str, ctx: _Context) -> list[_Hit]:
    """Every setting mentioned in `text`, each word read once: resources first, then
    content types, languages, domains, tones."""
    found: list[_Hit] = []

    def add(hit: _Hit) -> None:
        if all(hit.end <= h.start or hit.start >= h.end for h in found):
            hit.negated = _negated(text, hit.start)
            found.append(hit)

    for hit in sorted(_resource_hits(text, ctx.resources), key=lambda h: h.start - h.end):
        add(hit)
    if ctx.mode == CREATION:
        for hit in _table_hits(text, _CONTENT_TYPES, "content_type"):
            add(hit)
    for hit in _language_hits(text, ctx):
        add(hit)
    for table, field in ((_DOMAINS, "domain"), (_TONES, "tone")):
        for hit in _table_hits(text, table, field):
            add(hit)
    return sorted(found, key=lambda h: h.start)


def _table_hits(text: str, table, field: str) -> list[_Hit]:
    hits = [_Hit(field, value, m.start(), m.end())
            for value, pattern in table for m in pattern.finditer(text)]
    return sorted(hits, key=lambda h: (h.start, h.start - h.end))


def _negated(text: str, start: int) -> bool:
    """Whether the words just before `start`, in its clause, deny it: "not formal",
    "no glossary", "friendly rather than formal", "nicht förmlich", "sin glosario"."""
    window = _CONTRAST.split(text[max(0, start - 60):start])[-1]
    if _NEGATED_BEFORE.search(window):
        return True
    return any(w in _NEGATORS or w.endswith("n't") for w in _words(window)[-4:])


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’]+", text.lower().replace("’", "'"))


def _resource_hits(text: str, resources: Resources) -> list[_Hit]:
    """The organization's glossaries and style references the text names: by id; by a
    name of several words; by a one-word name in quotes or next to "glossary"/"style"."""
    hits = []
    for field, items, cue in (("glossary", resources.glossaries, _GLOSSARY_CUE),
                              ("style_ref", resources.style_refs, _STYLE_CUE)):
        for resource in items:
            name = re.findall(r"\w+", resource.name)
            if resource.id:
                for m in re.finditer(_B + re.escape(resource.id) + _E, text, re.IGNORECASE):
                    hits.append(_Hit(field, resource.id, m.start(), m.end()))
            if not name:
                continue
            pattern = _B + r"[\W_]+".join(re.escape(w) for w in name) + _E
            for m in re.finditer(pattern, text, re.IGNORECASE):
                quoted = m.start() > 0 and text[m.start() - 1] in _QUOTES \
                    and m.end() < len(text) and text[m.end()] in _QUOTES
                next_to_cue = re.match(r"[\s" + _QUOTES + r"]*(?:" + cue + ")" + _E,
                                       text[m.end():], re.IGNORECASE) or re.search(
                    _B + "(?:" + cue + r")(?:\s+\w+){0,2}[\s:" + _QUOTES + "]*$",
                    text[max(0, m.start() - 40):m.start()], re.IGNORECASE)
                if len(name) > 1 or quoted or next_to_cue:
                    hits.append(_Hit(field, resource.id, m.start(), m.end()))
    return hits


def _language_hits(text: str, ctx: _Context) -> list[_Hit]:
    """The languages the text names, each with the role its words give it."""
    hits = [_Hit("language", code, m.start(), m.end())
            for code, pattern in _LANGUAGE_RES for m in pattern.finditer(text)
            if not (code == "pl" and _POLISH_VERB.match(text, m.start()))]
    names = [(h.start, h.end) for h in hits]
    for m in _CODE_RE.finditer(text):
        code, region = m.group(1).lower(), (m.group(2) or "").lower()
        if code not in LANGUAGES or any(m.start() < e and s < m.end() for s, e in names):
            continue
        if region in LANGUAGES and region != code:  # DE-EN: two languages, not a region
            hits.append(_Hit("language", code, m.start(1), m.end(1), code=True,
                             upper=m.group(1).isupper()))
            hits.append(_Hit("language", region, m.start(2), m.end(2), code=True,
                             upper=m.group(2).isupper()))
        else:
            hits.append(_Hit("language", code, m.start(), m.end(), code=True,
                             upper=m.group(1).isupper() or bool(region)))
    hits.sort(key=lambda h: h.start)
    for hit in hits:
        hit.role = _role(text, hit, ctx)
    paired = set()
    for first, second in itertools.pairwise(hits):
        between = text[first.end:second.start]
        if _PAIR.fullmatch(between) and first.role in (None, "weak") \
                and second.role in (None, "weak", "target"):
            first.role, second.role = "source", "target"
            if _SYMBOLIC_PAIR.fullmatch(between):
                paired.update((id(first), id(second)))
    return [hit for hit in hits if not hit.code or _code_stands(text, hit, paired, ctx)]


def _code_stands(text: str, hit: _Hit, paired: set, ctx: _Context) -> bool:
    """Whether a two-letter code is meant as a language ("de→en", "target: fr", "into
    EN", a bare "fr" after the language question) and is no word ("it", "no", "de")."""
    pre = text[max(0, hit.start - 40):hit.start]
    if id(hit) in paired or _SOURCE_LABEL.search(pre) or _TARGET_LABEL.search(pre):
        return True
    if ctx.bare and ctx.asked in ("source_lang", "target_lang"):
        return True
    return hit.upper and hit.role in ("source", "target")


def _role(text: str, hit: _Hit, ctx: _Context) -> str | None:
    line_start = text.rfind("\n", 0, hit.start) + 1
    pre = text[max(line_start, hit.start - 50):hit.start]
    if _TARGET_LABEL.search(pre):
        return "target"
    if _SOURCE_LABEL.search(pre):
        return "source"
    if ctx.mode != CREATION and (_TEXT_IS.search(pre) or _TEXT_AFTER.match(text[hit.end:])):
        return "source"
    if _SOURCE_CUE.search(pre):
        return "source"
    if _TARGET_CUE.search(pre):
        return "target"
    if _WEAK_TARGET.search(pre):
        return "weak"
    return None


def _consumed(text: str, hits: list[_Hit]) -> bool:
    """Whether `text` says nothing but its settings (and words around them)."""
    rest = _mask(text, [(h.start, h.end) for h in hits])
    return all(w in _FILLER for w in re.findall(r"[^\W\d_]+", rest.lower()))


def _only_settings(text: str, ctx: _Context, limit: int) -> bool:
    """A short message made only of settings ("Marketing, formal tone please")."""
    if len(_words(text)) > limit:
        return False
    hits = _hits(text, ctx)
    return bool(hits) and _consumed(text, hits)


def _settings(hits: list[_Hit], text: str, ctx: _Context, new_text: str | None) -> dict:
    found = {}
    kept = [hit for hit in hits if not hit.negated]
    for field in ("content_type", "domain", "tone"):
        value = next((hit.value for hit in kept if hit.field == field), None)
        if value:
            found[field] = value
    glossaries = list(dict.fromkeys(h.value for h in kept if h.field == "glossary"))
    if len(glossaries) > 1:
        found["glossary_ids"] = glossaries
    elif glossaries:
        existing = ctx.briefing.get("glossary_id")
        if existing and existing != glossaries[0] and re.search(
                r"\b(?:also|too|as\s+well|additionally|auch|zus[äa]tzlich|aussi|"
                r"tambi[ée]n|besides)\b", text, re.IGNORECASE):
            found["glossary_ids"] = list(dict.fromkeys(
                [*(ctx.briefing.get("glossary_ids") or []), glossaries[0]]))
        else:
            found["glossary_id"] = glossaries[0]
    style = next((hit.value for hit in kept if hit.field == "style_ref"), None)
    if style:
        found["style_ref_id"] = style
    found.update(_languages([h for h in kept if h.field == "language"], ctx,
                            new_text or ctx.briefing.get("text")))
    return found


def _languages(hits: list[_Hit], ctx: _Context, text: str | None) -> dict:
    """source_lang and target_lang from the languages named and their roles. Named
    without a direction, a language is the target — the source when it answers the
    question for the source (unless the text is plainly in another language)."""
    source = next((h.value for h in hits if h.role == "source"), None)
    target = next((h.value for h in hits if h.role == "target"), None)
    rest = list(dict.fromkeys(h.value for h in hits if h.role in (None, "weak")))
    if ctx.mode == CREATION:
        target = target or next(iter(rest), None)
        rest = []
    elif source is None and target is None and len(rest) >= 2:
        source, target, rest = rest[0], rest[1], []
    known_source = source or ctx.briefing.get("source_lang")
    known_target = target or ctx.briefing.get("target_lang")
    for code in rest:
        if source is None and target is None:
            guess = _guess_language(text)
            if ctx.asked == "source_lang":
                as_source = not (guess and guess != code)
            else:
                as_source = guess == code and not known_source
            if as_source and code != known_target:
                source = code
            elif code != known_source:
                target = code
        elif target is None and code != known_source:
            target = code
        elif source is None and code != known_target:
            source = code
    return {name: code for name, code in (("source_lang", source), ("target_lang", target))
            if code}


def _guess_language(text: str | None) -> str | None:
    """The language a text is plainly in, by its commonest small words; else None."""
    if not text:
        return None
    words = re.findall(r"[^\W\d_]+", text.lower())
    counts = sorted(((sum(w in stop for w in words), code)
                     for code, stop in _STOPWORDS.items()), reverse=True)
    (best, code), (second, _) = counts[0], counts[1]
    return code if best >= 3 and best >= 2 * second else None
