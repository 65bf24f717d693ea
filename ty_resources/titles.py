"""Normalise job posting titles so that they meet the catalogue's job titles.

Pure logic, standard library only. ``normalize_title`` strips what job boards
add around a profession (gender markers, working time, places, shifts,
"ab sofort", seniority) and folds what is left into a matching ``key``:
lower case (``casefold``: umlauts kept, ``ß`` -> ``ss``), single spaces, no
punctuation, no filler words (``für``, ``im``, ``und`` ...) and gender-neutral:
every word is put into its male reading (``Bürokauffrau`` -> ``bürokaufmann``,
``Köchin`` -> ``koch``, ``Medizinische Fachangestellte`` -> ``medizinischer
fachangestellter``), so that the female, the male and the catalogue's printed
form (``Kaufmann/-frau - Büromanagement``) give the same key. ``reading_key``
applies the very same folding to a catalogue reading.

Degree marks in parentheses (``(FH)``, ``(Uni)``, ``(Bachelor)``) stay in the
text but not in the key: postings hardly ever carry them. Seniority
adjectives (Junior, Senior, Leitende/r, Lead, Head of) leave both text and key
and come back as ``seniority``; ``Teamleiter`` is a profession and stays.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["NormalizedTitle", "normalize_title", "reading_key"]


@dataclass(frozen=True)
class NormalizedTitle:
    key: str  # matching key: lower case, umlauts kept, single spaces, gender-neutral (male reading)
    text: str  # cleaned, readable title (case kept), for embeddings and prompts
    seniority: str | None  # 'junior' | 'senior' | 'lead' | 'head' | None
    removed: tuple[str, ...]  # what was stripped (evidence, debugging)


# ------------------------------------------------------------------ noise patterns

# Gender markers: (m/w/d), (w/m/x), m|w|d, (m, w, d), (gn*), (all genders), (d/m/w) ...
_G = r"(?:m|w|d|f|x|i|a|gn|div\.?|divers|diverse|inter)\*?"
_MARKER_CORE = rf"{_G}(?:\s*[/|,;\\]\s*{_G})+"
_MARKER = (
    r"(?:[(\[]\s*(?:" + _MARKER_CORE + r"|gn\*?|all\s+genders?|alle\s+geschlechter|geschlechtsneutral|genderneutral"
    r"|mwd|wmd|m\s*-\s*w\s*-\s*d)\s*\*?\s*[)\]]\*?"
    r"|(?<![\w/])(?:" + _MARKER_CORE + r")(?![\w/])|(?<![\w/])(?:gn\*|mwd)(?![\w/]))"
)
_CITY_WORD = r"[A-ZÄÖÜ][\w.'-]*"
_PLACE_QUALIFIER = (
    r"(?:\s*\((?:[^()]{1,25})\)|\s+(?:am|an\s+der|im|in\s+der|ob\s+der|bei|vor\s+der)\s+" + _CITY_WORD + ")"
)
_PLACE = rf"(?-i:(?:\d{{4,5}}\s+)?{_CITY_WORD}(?:\s+{_CITY_WORD}){{0,2}}{_PLACE_QUALIFIER}?)"
_AROUND = r"(?:\s*(?:und|&|\+)\s*(?:Umgebung|Umland|Region))"

# Phrases that are never part of a profession: removed wherever they stand (case-insensitive).
_NOISE_PHRASES = [
    # working time
    r"(?:in\s+|als\s+)?(?:voll-?\s*(?:oder|und|/|&|bzw\.?)\s*teilzeit|teil-?\s*(?:oder|und|/|&|bzw\.?)\s*vollzeit"
    r"|vollzeit\s*(?:/|oder|und|&|\||bzw\.?)\s*teilzeit|teilzeit\s*(?:/|oder|und|&|\||bzw\.?)\s*vollzeit"
    r"|vollzeit|teilzeit|vz\s*/\s*tz|tz\s*/\s*vz)(?:\s*\(\s*\d[^()]*\))?",
    r"(?:als\s+|auf\s+)?(?:minijob|mini-job|midijob|nebenjob|aushilfsjob)(?:[\s-]?basis)?",
    r"(?:auf\s+)?(?:450|520|538|556|603)\s*(?:€|euro|eur)(?:[\s-]*(?:basis|job))?",
    r"geringfügige?\s+beschäftigung|geringfügig",
    r"\d{1,2}(?:[,.]\d)?\s*(?:-\s*\d{1,2}\s*)?(?:std\.?|stunden|h)(?:\s*(?:/|pro|je)\s*(?:woche|wo\.?|w\.?))?",
    r"(?:in\s+)?festanstellung|feste?\s+anstellung|(?:in\s+)?direktvermittlung|(?:in\s+)?arbeitnehmerüberlassung",
    # start and contract
    r"(?:ab|per)\s+sofort|sofortstart|zum\s+nächstmöglichen\s+(?:zeitpunkt|termin)|nächstmöglich",
    r"(?:ab|zum)\s+\d{1,2}\.\s*\d{1,2}\.(?:\s*\d{2,4})?",
    r"(?:ab\s+)?(?:januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember)\s+\d{4}",
    r"(?:zunächst\s+)?(?:un)?befristet(?:\s+auf\s+\d+\s+(?:monate|jahre))?|dauerhaft|langfristig",
    r"(?:elternzeit|mutterschutz|krankheits)vertretung",
    # who may apply
    rf"(?:(?:gerne?|auch)\s+)+(?:für\s+)?quereinsteiger(?:innen|\*innen|:innen)?(?:\s*{_MARKER})?(?:\s+willkommen)?",
    rf"quereinsteiger(?:innen|\*innen|:innen)?(?:\s*{_MARKER})?\s+(?:sind\s+)?(?:herzlich\s+)?willkommen",
    r"quereinstieg\s+möglich|(?:auch\s+)?ohne\s+(?:berufs)?erfahrung|ohne\s+vorkenntnisse|keine\s+erfahrung\s+nötig",
    # shifts
    r"(?:im\s+|in\s+)?(?:\d\s*-?\s*schicht(?:-?system|betrieb|dienst)?|(?:zwei|drei|vier)-?schicht(?:-?system|betrieb)?"
    r"|wechselschicht(?:dienst)?|schichtdienst|schichtarbeit|schichtbetrieb|nachtschicht|nachtdienst|frühschicht"
    r"|spätschicht|tagschicht|früh-\s*(?:und|/)\s*spätschicht|wochenenddienst|rufbereitschaft)",
    # where and how
    r"(?:(?:mit|inkl\.?)\s+)?(?:(?:bis\s+zu\s+)?\d{1,3}\s*%\s*)?(?:home-?\s?office|remote|mobiles?\s+arbeiten)"
    r"(?:[\s-]*(?:option|möglich|anteil))?",
    r"hybrid|deutschlandweit|bundesweit|europaweit|weltweit|in\s+ganz\s+(?-i:[A-ZÄÖÜ][\w-]*)",
    rf"(?:für\s+(?:unseren?|unsere|den|die)\s+|am\s+|an\s+(?:unserem|den)\s+)?(?:standorte?|einsatzort|arbeitsort)"
    rf":?\s+(?:in\s+)?{_PLACE}{_AROUND}?",
    rf"für\s+(?:unseren?|unsere|unser)\s+[\w-]+(?-i:(?:\s+[A-ZÄÖÜ][\w&.-]*)*)(?:\s+(?:in|im|am)\s+{_PLACE}{_AROUND}?)?",
    rf"(?:im\s+)?(?:groß)?raum\s+{_PLACE}{_AROUND}?",
    # pay and bait
    r"(?:bis\s+(?:zu\s+)?|ab\s+|über\s+|mind\.?\s+)?\d[\d.,]*\s*(?:€|eur\b|euro\b|k€|tsd\.?\s*€)"
    r"(?:\s*(?:brutto|netto))?(?:\s*(?:/|pro|je)\s*(?:std\.?|stunde|h|monat|mon\.?|jahr|p\.?\s*a\.?))?",
    r"top[\s-]?gehalt|übertarifliche\s+bezahlung|attraktive\s+vergütung|(?:wechsel|start|antritts)prämie",
    r"(?:dringend\s+)?gesucht!?|jetzt\s+bewerben!?|wir\s+suchen(?:\s+dich|\s+sie)?:?|stellenangebot:|top-?job:?",
]
# Cheap substrings that every noise phrase contains one of: most titles skip the big pattern.
_NOISE_HINTS = (
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "zeit", "job", "geringfüg", "festanstell", "direktverm",
    "überlass", "sofort", "nächstmögl", "befrist", "dauerhaft", "langfrist", "vertretung", "quereinst", "erfahrung",
    "vorkenntnis", "schicht", "dienst", "bereitschaft", "office", "remote", "mobile", "hybrid", "weit", "ganz",
    "standort", "einsatzort", "arbeitsort", "unser", "raum", "€", "eur", "gehalt", "bezahlung", "vergütung",
    "prämie", "gesucht", "bewerben", "suchen", "stellenangebot", "top", "anstellung", "vz",
)
_SENIORITY_HINTS = ("head", "junior", "jr", "senior", "sr", "berufs", "leitende", "lead")
_NOISE = re.compile(r"(?<![\w-])(?:" + "|".join(_NOISE_PHRASES) + r")(?![\w-])", re.I)
_MARKER_RE = re.compile(_MARKER, re.I)

# Seniority adjectives: out of text and key, into ``seniority``.
_SENIORITY = re.compile(
    r"(?<![\w-])(?:(?P<head>head\s+of\b|head(?=\s+[^\W\d_]))"
    r"|(?P<junior>junior(?:-|\b)|jr\.(?=\s)|jr\b|berufseinsteiger(?:in)?\b|berufsanfänger(?:in)?\b)"
    r"|(?P<senior>senior(?:-|\b)|sr\.(?=\s)|sr\b)"
    r"|(?P<lead>leitende(?:/-?r\b|\(r\)|[:*_]r\b|r\b|n\b|\b)|(?<!team\s)lead\b(?!-)))",
    re.I,
)

# Separators between the parts of a title; \x1f is a soft one, left where noise was cut out.
_SEPARATOR = re.compile(
    r"((?:\s*\x1f)+\s*(?:[-–—|/•·+,;]\s+)?|\s+[-–—|/•·+]\s+|\s*[|•·;]\s*|\s*,\s*(?!\d)|(?<!\d)\s*,\s*"
    r"|\s+[–—]|[–—]\s+)"
)
_PAREN_GROUP = re.compile(r"\(([^()]*)\)")
_PAREN_OPEN_JUNK = re.compile(r"\(\s*(?:[\x1f,;/|+&:-]\s*)+")
_PAREN_CLOSE_JUNK = re.compile(r"(?:\s*[\x1f,;/|+&:-])+\s*\)")
_EMPTY_PARENS = re.compile(r"\(\s*\)|\[\s*\]")
_EDGE_JUNK = re.compile(r"^[\s\-–—|/,;:.!?*+•·&\x1f]+|[\s\-–—|/,;:!?*+•·&\x1f]+$")
_SPACES = re.compile(r"\s+")
_IN_PLACE_END = re.compile(rf"(?:^|\s)(?P<prep>in|in\s+und\s+um|nahe|nähe|bei)\s+(?P<place>{_PLACE}){_AROUND}?\s*$")
_LEADING_IN_PLACE = re.compile(rf"^(?i:in|im\s+raum|region|nähe|nahe|bei)\s+(?P<place>{_PLACE}){_AROUND}?$")
_PROTECT = str.maketrans({",": "\x02", "|": "\x03", ";": "\x04", "/": "\x05", "-": "\x06"})
_UNPROTECT = str.maketrans({"\x02": ",", "\x03": "|", "\x04": ";", "\x05": "/", "\x06": "-"})

# Places: big and middling German cities, Länder and regions, a few abroad. Compared
# lower case, after PLZ, "(Saale)", "am Main" and "-Ortsteil" are cut off.
_PLACES = frozenset(
    """
berlin hamburg münchen köln frankfurt stuttgart düsseldorf leipzig dortmund essen bremen dresden hannover nürnberg
duisburg bochum wuppertal bielefeld bonn münster mannheim karlsruhe augsburg wiesbaden mönchengladbach gelsenkirchen
aachen braunschweig kiel chemnitz halle magdeburg freiburg krefeld mainz lübeck erfurt oberhausen rostock kassel
hagen potsdam saarbrücken hamm ludwigshafen oldenburg mülheim osnabrück leverkusen darmstadt heidelberg solingen
herne neuss regensburg paderborn ingolstadt offenbach fürth würzburg ulm heilbronn pforzheim wolfsburg göttingen
bottrop reutlingen koblenz recklinghausen bremerhaven jena erlangen remscheid trier salzgitter moers siegen
hildesheim cottbus gütersloh kaiserslautern witten hanau schwerin gera esslingen ludwigsburg iserlohn düren
tübingen flensburg zwickau gießen ratingen lünen konstanz marl worms velbert minden dessau neumünster
norderstedt delmenhorst wilhelmshaven viersen gladbeck dorsten rheine detmold troisdorf arnsberg bamberg plauen
neubrandenburg lüneburg bayreuth bocholt celle landshut aschaffenburg dinslaken aalen fulda lippstadt kempten
herford kerpen rosenheim stralsund greifswald hameln unna wesel garbsen görlitz friedrichshafen euskirchen
stolberg sindelfingen langenfeld hürth eschweiler meerbusch grevenbroich hilden göppingen pulheim schweinfurt
wetzlar neuwied passau freising straubing erding dachau weimar gotha eisenach nordhausen suhl ilmenau altenburg
stendal halberstadt wernigerode quedlinburg wittenberg bernburg merseburg weißenfels naumburg oranienburg
eberswalde bernau falkensee neuruppin fürstenwalde eisenhüttenstadt schwedt brandenburg senftenberg wismar
güstrow neustrelitz bautzen freiberg pirna meißen riesa döbeln hoyerswerda radebeul freital kamenz torgau
delitzsch grimma markkleeberg saarlouis neunkirchen homburg völklingen merzig speyer frankenthal landau
pirmasens zweibrücken bingen andernach mayen limburg marburg rüsselsheim dreieich oberursel friedberg bensheim
viernheim rodgau maintal offenburg lörrach ravensburg biberach böblingen waiblingen nürtingen leonberg rastatt
bruchsal heidenheim crailsheim tuttlingen rottweil balingen albstadt sigmaringen memmingen kaufbeuren coburg
ansbach schwabach amberg deggendorf neumarkt traunstein starnberg fürstenfeldbruck germering unterschleißheim
ottobrunn unterhaching garching pfaffenhofen eichstätt kitzingen gifhorn peine wolfenbüttel goslar cuxhaven
stade buxtehude lingen nordhorn emden aurich papenburg cloppenburg vechta nienburg verden uelzen langenhagen
laatzen lehrte seevetal pinneberg elmshorn wedel ahrensburg itzehoe rendsburg husum geesthacht reinbek
kaltenkirchen ratzeburg eutin siegburg brühl frechen bergheim wesseling wermelskirchen gummersbach lüdenscheid
menden soest ahlen beckum warendorf coesfeld dülmen borken emsdetten greven ibbenbüren steinfurt bünde löhne
lemgo höxter brilon meschede olpe attendorn kleve emmerich goch geldern mettmann erkrath haan heiligenhaus
monheim dormagen kaarst willich kempen nettetal heinsberg erkelenz jülich alsdorf herzogenrath würselen
bergkamen kamen schwerte selm werne datteln waltrop haltern herten hattingen gevelsberg ennepetal schwelm
herdecke castrop-rauxel villingen-schwenningen bietigheim-bissingen idar-oberstein annaberg-buchholz
garmisch-partenkirchen neu-ulm kamp-lintfort oer-erkenschwick dessau-roßlau
wien salzburg innsbruck graz linz zürich basel bern luzern venlo enschede
bayern baden-württemberg nordrhein-westfalen nrw niedersachsen hessen rheinland-pfalz sachsen sachsen-anhalt
thüringen mecklenburg-vorpommern schleswig-holstein saarland ruhrgebiet rhein-main rhein-main-gebiet rhein-neckar
rheinland münsterland sauerland allgäu oberbayern niederbayern franken oberfranken mittelfranken unterfranken
ostwestfalen owl emsland ostfriesland schwarzwald vogtland erzgebirge lausitz uckermark deutschland
""".split()
    + [
        "bergisch gladbach", "sankt augustin", "st. augustin", "lutherstadt wittenberg", "schwäbisch gmünd",
        "schwäbisch hall", "bad homburg", "st. gallen", "baden-baden", "bad kreuznach", "bad vilbel",
        "bad oeynhausen", "bad salzuflen", "bad oldesloe", "bad segeberg", "bad tölz", "bad nauheim",
    ]
)

_AMBIGUOUS_PLACES = frozenset({"halle", "essen", "hamm", "marl", "brühl", "kamen", "haan", "werne", "homburg"})
# Words after "in" that name a field, not a place ("Mitarbeiter in Produktion").
_FIELD_WORDS = frozenset(
    """lager logistik produktion fertigung montage verwaltung büro vertrieb verkauf service kundenservice
    marketing controlling engineering consulting recruiting accounting banking purchasing sourcing training
    coaching catering housekeeping sales it edv pflege küche gastronomie reinigung hauswirtschaft technik
    labor praxis apotheke filiale kasse zentrale werkstatt einkauf buchhaltung personal forschung lehre
    entwicklung betreuung versand empfang""".split()
)
# Endings of the word after "in" that make it a field or an institution, not a place.
_NOUN_ENDINGS = (
    "ung", "ungen", "heit", "keit", "schaft", "ion", "ionen", "ik", "iken", "ie", "ien", "tät", "betrieb",
    "betrieben", "praxis", "praxen", "stätten", "station", "wesen", "lehre", "handel", "dienst", "bereich",
    "kontrolle", "pflege", "hilfe", "küche", "technik", "wirtschaft", "team", "verein", "zeit", "system",
    "abteilung", "ei", "ment", "ice", "ismus", "bau", "lager", "büro", "labor", "haus", "häuser",
)

# Degree marks: kept in the text, left out of the key.
_DEGREE = re.compile(
    r"\(\s*(?:uni|fh|fs|ba|th|tu|hochschule|bachelor|master|diplom|b\.?\s?sc\.?|m\.?\s?sc\.?|b\.?\s?a\.?"
    r"|m\.?\s?a\.?|b\.?\s?eng\.?|m\.?\s?eng\.?|ing\.?\s?h)\s*\)",
    re.I,
)
_PLACE_NOISE = re.compile(r"\b\d{4,5}\b|" + _AROUND + r"\s*$", re.I)
_PLACE_PIECES = re.compile(r"\s*/\s*|\s+(?:und|&)\s+|\s*,\s*")
_PLACE_QUALIFIERS = re.compile(r"\s*\([^()]*\)\s*$|\s+(?:am|an der|im|in der|ob der|bei|vor der)\s+.*$")


@lru_cache(maxsize=8192)
def _is_place(text: str, strict: bool = False) -> bool:
    """A city, Land or region we know, possibly with PLZ, qualifier, Ortsteil or "und Umgebung".

    ``strict`` (inside parentheses): 'Halle' alone is a hall there, not the city."""
    text = _PLACE_NOISE.sub(" ", text).strip(" ,/-")
    if not text or not text[0].isupper():
        return False
    for piece in _PLACE_PIECES.split(text):
        piece = piece.strip()
        base = _PLACE_QUALIFIERS.sub("", piece).lower()
        if strict and base in _AMBIGUOUS_PLACES and base == piece.lower():
            return False
        if base in _PLACES or base.startswith("bad ") and len(base) > 5:
            continue
        if "-" in base and (base.split("-")[0] in _PLACES or base.rsplit("-", 1)[0] in _PLACES):
            continue  # Berlin-Mitte, Hamburg-Altona
        return False
    return True


def _looks_like_place(place: str) -> bool:
    """The words after "in": a known place, or capitalised words that name no field or institution."""
    if _is_place(place):
        return True
    words = _PLACE_QUALIFIERS.sub("", place).split()
    if not words or len(words) > 3:
        return False
    first, last = words[0].strip(".,").casefold(), words[-1].strip(".,").casefold()
    return not (first in _FIELD_WORDS or last in _FIELD_WORDS or last.endswith(_NOUN_ENDINGS))


def _strip_places(part: str, removed: list[str]) -> str:
    """A part without a trailing "in <Ort>"; empty when the whole part names a place."""
    while part:
        m = _LEADING_IN_PLACE.match(part)
        if _is_place(part) or m and _looks_like_place(m.group("place")):
            removed.append(part)
            return ""
        m = _IN_PLACE_END.search(part)
        if not m or m.start() == 0:
            break
        place = m.group("place")
        if not (_is_place(place) if m.group("prep") in {"nahe", "nähe", "bei"} else _looks_like_place(place)):
            break  # 'Aushilfe bei Bedarf'; after a plain "in" a capitalised non-field word is taken for a place
        removed.append(m.group(0).strip())
        part = part[: m.start()].rstrip(" ,-")
    return part


def _tidy_parens(text: str, removed: list[str]) -> str:
    """Trim what cuts left inside parentheses, drop empty ones and places; shield the separators inside."""
    text = _PAREN_OPEN_JUNK.sub("(", text)
    text = _PAREN_CLOSE_JUNK.sub(")", text)
    text = _EMPTY_PARENS.sub(" \x1f ", text)

    def inner(match: re.Match[str]) -> str:
        content = match.group(1).strip()
        if _is_place(content, strict=True):
            removed.append(match.group(0))
            return " \x1f "
        return "(" + content.translate(_PROTECT) + ")"

    return _PAREN_GROUP.sub(inner, text) if "(" in text else text


def _separator_text(seps: list[str]) -> str:
    """How two kept parts are joined: the first real separator between them, else a space."""
    for sep in seps:
        core = sep.replace("\x1f", "").strip()
        if core:
            return ", " if core[0] == "," else f" {core[0]} "
    return " "


def _clean(title: str) -> tuple[str, str | None, list[str]]:
    """The readable title without noise, the seniority found, and what was removed."""
    text = unicodedata.normalize("NFC", title)
    if "&" in text and ";" in text:
        text = html.unescape(text)
    text = _SPACES.sub(" ", text.replace("\u00ad", "").replace("\x1f", " ")).strip()
    removed: list[str] = []
    seniority: str | None = None

    def cut(match: re.Match[str]) -> str:
        removed.append(match.group(0).strip())
        return " \x1f "

    def cut_level(match: re.Match[str]) -> str:
        nonlocal seniority
        if seniority is None:
            seniority = match.lastgroup
        removed.append(match.group(0).strip(" -"))
        return " "

    lower = text.lower()
    noisy = any(hint in lower for hint in _NOISE_HINTS)
    if noisy:
        text = _NOISE.sub(cut, text)
    if any(ch in text for ch in "/([|,;") or "gn" in lower or "mwd" in lower:
        found = len(removed)
        text = _MARKER_RE.sub(cut, text)
        if noisy and len(removed) > found:
            text = _NOISE.sub(cut, text)  # phrases a marker had split: "Vollzeit (m/w/d) / Teilzeit"
    if any(hint in lower for hint in _SENIORITY_HINTS):
        text = _SENIORITY.sub(cut_level, text)
    if "(" in text or "[" in text:
        text = _tidy_parens(text, removed)

    pieces = _SEPARATOR.split(text)
    out: list[str] = []
    seps: list[str] = []
    for i, piece in enumerate(pieces):
        if i % 2:
            seps.append(piece)
            continue
        part = _EDGE_JUNK.sub("", _SPACES.sub(" ", piece.translate(_UNPROTECT)))
        if part.count("(") > part.count(")"):
            part += ")"
        elif part.count(")") > part.count("(") and part.endswith(")"):
            part = part[:-1].rstrip()
        part = _EDGE_JUNK.sub("", _strip_places(part, removed))
        if not any(ch.isalnum() for ch in part):
            continue
        if out:
            out.append(_separator_text(seps))
        out.append(part)
        seps = []
    return "".join(out), seniority, removed


# ------------------------------------------------------------------ gender forms

_ERER_STEMS = (
    "zimmer", "polster", "sinter", "steuer", "pflaster", "kletter", "räucher", "kalander", "temper", "verkupfer",
    "ausbesser", "zerfaser", "cater", "versteiger", "förder", "zauber", "fütter", "wander", "teer", "kämmer",
    "entzunder",
)
# Whole word endings, female (or odd) -> male; longest first.
_ENDINGS: tuple[tuple[str, str], ...] = tuple(
    sorted(
        {
            "hebamme": "entbindungspfleger", "schwester": "pfleger", "mutter": "vater", "mädchen": "bursche",
            "direktrice": "modelleur", "stewardess": "steward", "purserette": "purser", "euse": "eur",
            "frau": "mann", "frauen": "mann", "männer": "mann", "leute": "mann", "kräfte": "kraft",
            "ärztin": "arzt", "ärztinnen": "arzt", "köchin": "koch", "köchinnen": "koch", "anwältin": "anwalt",
            "anwältinnen": "anwalt", "bäuerin": "bauer", "rätin": "rat", "bischöfin": "bischof",
            "vorständin": "vorstand", "beamtin": "beamter", "beamtinnen": "beamter", "beamin": "beamter",
            "beamte": "beamter", "hirtin": "hirte", "login": "loge", "loginnen": "loge", "gogin": "goge",
            "goginnen": "goge", "ogein": "oge", "pädin": "päde", "botin": "bote", "lotsin": "lotse",
            "matrosin": "matrose", "gehilfin": "gehilfe", "gehilfein": "gehilfe", "gesellin": "geselle",
            "kollegin": "kollege", "kolleginnen": "kollege", "expertin": "experte", "expertinnen": "experte",
            "kundin": "kunde", "komparsin": "komparse", "pantomimin": "pantomime", "woman": "man",
            "novizin": "novize", "zeugin": "zeuge", "metallurgin": "metallurge", "erste": "erster",
            "zweite": "zweiter", "dritte": "dritter", "vierte": "vierter",
            "ischerr": "ischer",  # the file's 'Medizinischer/r' reads 'Medizinischerr'
        }.items()
        # Females of -erer: Zimmerer/Zimmerin, Polsterer/Polsterin, Steuerer/Steuerin ...
        | {stem + "in": stem + "er" for stem in _ERER_STEMS}.items(),
        key=lambda pair: -len(pair[0]),
    )
)
# Words that end in -in but are no female form (a suffix match: 'zahnmedizin' ends in 'medizin').
_NOT_FEMALE = (
    "medizin", "termin", "berlin", "kamin", "vitamin", "benzin", "disziplin", "platin", "gelatin", "nikotin",
    "rosmarin", "mandarin", "margarin", "magazin", "delfin", "delphin", "pinguin", "zeppelin", "insulin",
    "adrenalin", "serotonin", "heroin", "koffein", "protein", "paraffin", "harlekin", "musselin", "tamburin",
    "schwerin", "stettin", "templin", "latin", "satin", "kasein", "pektin", "linkedin",
    "admin", "cousin", "kevin", "martin", "robin", "erwin", "dublin", "turin", "bulletin", "jasmin", "chemin",
)
_NOT_FEMALE_EXACT = frozenset({"in", "login", "urin", "ruin", "eutin"})
# A stem before -in that names a person: Verkäufer-in, Assistent-in, Architekt-in, Ökonom-in ...
_PERSON_STEM = (
    "er", "eur", "ent", "ant", "ist", "or", "ekt", "at", "ar", "är", "ier", "irt", "eut", "ot", "ast", "yst",
    "urg", "ef", "raf", "aph", "on", "ied", "wart", "own", "an", "et", "iv", "ul", "and", "tut", "nom", "tom",
    "ath", "tän", "ert", "eer", "ör", "iat", "etz", "ät", "oph",
)
_NOT_FEMALE_STEM = frozenset({"mar", "kam", "lat", "sat", "rob", "mart", "erw", "kev"})
# Adjective and participle endings whose -e reading is female (Medizinische -> Medizinischer).
_ADJ_E = (
    "ische", "liche", "ige", "llte", "amte", "igte", "ierte", "tete", "dete", "ragte", "prüfte", "lernte", "ordnete",
    "uelle", "ielle", "nelle", "relle", "onale", "tale", "ziale", "kale", "ulante", "ivate", "obile", "doxe",
)
_NOT_ADJ = frozenset({"ende", "wochenende", "legende", "spende", "dividende", "blende", "wende", "lende", "quelle",
                      "datenquelle", "portale"})
_STOPWORDS = frozenset(
    "für im in am an der die das den dem des und u oder bzw zum zur vom von mit bei als sowie the of and for a"
    " to at".split()
)


@lru_cache(maxsize=65536)
def _male_word(word: str) -> str:
    """The male reading of one lower-case word (letters only); unchanged when it is no female form."""
    if len(word) < 3 or word in _NOT_FEMALE_EXACT:
        return word
    for female, male in _ENDINGS:
        if word.endswith(female):
            return word[: len(word) - len(female)] + male
    if word.endswith(("in", "innen")) and not word.endswith(_NOT_FEMALE):
        stem = word[:-5] if word.endswith("innen") else word[:-2]
        if len(stem) >= 3 and stem.endswith(_PERSON_STEM) and stem not in _NOT_FEMALE_STEM:
            return stem
        return word
    if word.endswith("e") and word not in _NOT_ADJ and (
        word.endswith(_ADJ_E) or word.endswith("ende") and len(word) >= 7
    ):
        return word + "r"
    return word


def _male_piece(piece: str) -> str:
    """``_male_word`` for the last word of a piece that may carry a prefix ('dipl.-kauffrau')."""
    m = re.search(r"([^\W\d_]+)$", piece)
    if not m:
        return piece
    return piece[: m.start()] + _male_word(m.group(1))


def _female_of(base: str) -> str:
    """'verkäufer' + in -> 'verkäuferin'; 'pädagoge' + in -> 'pädagogin'."""
    return (base[:-1] if base.endswith("e") else base) + "in"


def _resolve_in(match: re.Match[str]) -> str:
    """Verkäufer/in, Lehrer:in, Mitarbeiter*innen, Ärzt*in, Pädagoge/in -> the male reading."""
    base, suffix = match.group(1), match.group(2)
    female = _female_of(base) + ("nen" if suffix == "innen" else "")
    male = _male_word(female)
    return male if male != female else base


_SUFFIX_IN = re.compile(r"([^\W\d_]+)(?:/-?|[*:_·]|\(-?)(in|innen)\b\)?")
_SUFFIX_R = re.compile(r"([^\W\d_]*e)r?(?:/-?|[*:_]|\()(r|n)\b\)?")  # 'Medizinischer/r' is in the file
_PAREN_ALT = re.compile(r"([^\W\d_]+)\(([^\W\d_]+)(?:/-?|[*:_])[^\W\d_]+\)")
_BINNEN_I = re.compile(r"(?<=[a-zäöüß])I(nnen|n)\b")
_NON_WORD = re.compile(r"[\W_]+")
_PARENS = re.compile(r"[()\[\]]")


def _is_gender_pair(first: str, second: str) -> bool:
    if not first or first.endswith("-") or not second:
        return False
    male_first = _male_piece(first)
    if second.startswith("-"):
        tail = second[1:]
        return bool(tail) and (male_first.endswith(_male_word(tail)) or _male_word(tail) != tail and
                               male_first.endswith(tail))
    male_second = _male_piece(second)
    if male_second == male_first:
        return True  # Koch/Köchin, Arzt/Ärztin, Hebamme/Entbindungspfleger
    if (male_second != second or male_first != first) and male_first.endswith(male_second):
        return True  # Schweißfachmann/frau, Teilkoch/köchin, Gemeindeschwester/pfleger
    f, s = re.sub(r"\W", "", first), re.sub(r"\W", "", second)
    return s.endswith("in") and len(s) > 4 and f.startswith(s[:-2]) and len(f) - len(s) <= 2


def _resolve_slashes(token: str) -> str:
    """Kaufmann/-frau, Koch/Köchin, Krankenschwester/-pfleger -> one male word; other slashes -> spaces."""
    pieces = token.split("/")
    out = [pieces[0]]
    for piece in pieces[1:]:
        if _is_gender_pair(out[-1], piece):
            out[-1] = _male_piece(out[-1])
        else:
            out.append(piece)
    return " ".join(out)


def _key(text: str) -> str:
    if "(" in text:
        text = _DEGREE.sub(" ", text)
    if "I" in text:
        text = _BINNEN_I.sub(lambda m: "i" + m.group(1), text)
    text = text.casefold()
    if "(" in text:
        text = _PAREN_ALT.sub(r"\1\2", text)
    if any(ch in text for ch in "/*:_·("):
        text = _SUFFIX_IN.sub(_resolve_in, text)
        text = _SUFFIX_R.sub(lambda m: m.group(1) + ("r" if m.group(2) == "r" else ""), text)
    if "/" in text:
        text = _PARENS.sub(" ", text).replace(",", " , ")
        text = " ".join(_resolve_slashes(t) if "/" in t else t for t in text.split())
    words: list[str] = []
    for word in _NON_WORD.sub(" ", text).split():
        if word in _STOPWORDS:
            continue
        word = _male_word(word)
        word = "dipl" if word == "diplom" else word
        if not words or words[-1] != word:  # 'Koch / Köchin' -> 'koch'
            words.append(word)
    return " ".join(words)


# ------------------------------------------------------------------------ API


def normalize_title(title: str) -> NormalizedTitle:
    """Strip a posting title's noise and fold it into a gender-neutral matching key."""
    text, seniority, removed = _clean(title or "")
    if "(" in text:
        removed += [m.group(0) for m in _DEGREE.finditer(text)]
    return NormalizedTitle(key=_key(text), text=text, seniority=seniority, removed=tuple(removed))


def degree_of(text: str) -> str | None:
    """The degree a title names in brackets, folded (``'Archivar/in (FH)'`` -> ``'fh'``), else None. Not part of
    the key: it tells apart catalogue titles that share one (``Archivar/in`` 73314, ``Archivar/in (FS)`` 73313)."""
    match = _DEGREE.search(text or "")
    return re.sub(r"[\s.()]", "", match.group(0)).casefold() if match else None


# Words that name a role or a level rather than a field ('Meister', 'Techniker', 'Helfer', ...), alone or at the
# end of a compound ('Landwirtschaftsmeister'). What precedes them names the field.
ROLE_HEADS = tuple(sorted({
    "meister", "techniker", "ingenieur", "helfer", "fachkraft", "facharbeiter", "fachwirt", "kaufmann",
    "assistent", "berater", "leiter", "direktor", "sachverständiger", "wissenschaftler", "mechaniker",
    "mechatroniker", "elektroniker", "arbeiter", "werker", "verkäufer", "lehrer", "ausbilder", "pädagoge",
    "spezialist", "referent", "sachbearbeiter", "betriebswirt", "führer", "bediener", "kontrolleur", "prüfer",
    "monteur", "macher", "hersteller", "gestalter", "designer", "planer", "manager", "koordinator", "beauftragter",
    "offizier", "arzt", "therapeut", "pfleger", "tester", "entwickler", "programmierer", "analyst",
    "administrator", "operator", "fahrer",
}, key=len, reverse=True))


def split_role(key: str) -> tuple[str, str]:
    """A key's field words and its role word: ``'landwirtschaftsmeister'`` -> ``('landwirtschaft', 'meister')``,
    ``'meister saatgut'`` -> ``('saatgut', 'meister')``, ``'koch'`` -> ``('koch', '')``. The role is the last
    role word; the field is everything else (compound prefixes without their linking s or hyphen)."""
    field_words: list[str] = []
    role = ""
    for word in key.split():
        head = next((h for h in ROLE_HEADS if word.endswith(h)), None)
        if head is None:
            field_words.append(word)
            continue
        role = head
        prefix = word[: -len(head)].rstrip("-")
        if prefix.endswith("s") and len(prefix) > 4:
            prefix = prefix[:-1]
        if prefix:
            field_words.append(prefix)
    return " ".join(field_words), role


def reading_key(reading: str) -> str:
    """The key of a catalogue reading (``name``, ``name_male`` or ``name_female``): the same as a posting's."""
    return normalize_title(reading).key


@lru_cache(maxsize=100_000)
def title_key(title: str) -> str:
    """``normalize_title(title).key``, remembered: a day's postings repeat a few thousand titles."""
    return normalize_title(title).key


def one_edit_apart(a: str, b: str) -> bool:
    """True when ``b`` is ``a`` with one letter added, dropped or changed, or two neighbours swapped (the typos
    of a posting title: ``'lagerlogsitik'``, ``'lagerlogistk'``); False for equal strings."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    start = 0
    while start < len(a) and a[start] == b[start]:
        start += 1
    if len(a) < len(b):  # one letter more in b
        return a[start:] == b[start + 1 :]
    if a[start + 1 :] == b[start + 1 :]:  # one letter changed
        return True
    return (start + 1 < len(a) and a[start] == b[start + 1] and a[start + 1] == b[start]
            and a[start + 2 :] == b[start + 2 :])  # two neighbours swapped
