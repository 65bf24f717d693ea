"""Parse an (anonymised) CV text into a draft: work history, education and skills.

Sections are found by their German (and English) headings (``Berufserfahrung``, ``Ausbildung``,
``Kenntnisse``, ...). Inside the work and education sections every line with a date range starts an
entry: ``03/2019 – 08/2021``, ``seit 03/2021``, ``2018 - heute``, ``01.2015 bis 12.2019``,
``März 2019 – Mai 2020``, ``01.03.2019 - 31.12.2020``. The entry's title and employer are the rest of
that line (``Pflegefachkraft, Klinikum Nord``, ``Pflegefachkraft | Klinikum Nord``, ``... bei ...``) or the
lines next to it: after the dates (date first) or before them (title first, detected per section).
Bullet lines are the entry's description. Skills are the items of the skills sections, split at commas,
semicolons and bullets, with ``Label: a, b`` lines giving their items.

Dates are the first day of the month given; a year alone is January for a start and December for an end.
A CV without any headings is scanned as a whole, and each entry is sorted into education or work by its
words (``Abitur``, ``Studium``, ``Ausbildung zum``, ...). The result is a plain pydantic model:
``draft.model_dump(mode="json")`` is what the API stores and returns.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

MONTHS: dict[str, int] = {
    "januar": 1, "jan": 1, "jänner": 1, "january": 1,
    "februar": 2, "feb": 2, "febr": 2, "february": 2,
    "märz": 3, "mär": 3, "maerz": 3, "mrz": 3, "march": 3, "mar": 3,
    "april": 4, "apr": 4,
    "mai": 5, "may": 5,
    "juni": 6, "jun": 6, "june": 6,
    "juli": 7, "jul": 7, "july": 7,
    "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "october": 10, "oct": 10,
    "november": 11, "nov": 11,
    "dezember": 12, "dez": 12, "december": 12, "dec": 12,
}

MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_SKILLS = 50
MAX_ENTRIES = 50  # per list: a draft stays small whatever the upload
MAX_SKILL = 100

# ------------------------------------------------------------------ model


class WorkEntry(BaseModel):
    title: str | None = Field(description="The job title; None where the CV's layout hid it.")
    employer: str | None = None
    location: str | None = None
    start_date: date
    end_date: date | None = Field(description="None: the current position (``seit``, ``heute``).")
    current: bool = False
    period: str = Field(description="The dates as written in the CV.")
    description: str | None = None


class EducationEntry(BaseModel):
    degree: str | None
    institution: str | None = None
    location: str | None = None
    start_date: date
    end_date: date | None
    current: bool = False
    period: str


class CvDraft(BaseModel):
    work_history: list[WorkEntry] = Field(default_factory=list)
    education: list[EducationEntry] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list, description="Skills and languages, as written.")


# ------------------------------------------------------------------ headings

SectionKind = Literal["work", "education", "skills", "other"]

HEADINGS: dict[str, SectionKind] = {}
_HEADING_WORDS: dict[SectionKind, tuple[str, ...]] = {
    "work": ("berufserfahrung", "berufliche erfahrung", "berufliche erfahrungen", "beruflicher werdegang",
             "werdegang", "berufspraxis", "berufstätigkeit", "berufstätigkeiten", "praxiserfahrung",
             "arbeitserfahrung", "beschäftigungsverlauf", "berufliche stationen", "berufliche laufbahn",
             "berufslaufbahn", "berufliche tätigkeiten", "tätigkeiten", "stationen", "praktika",
             "work experience", "experience", "professional experience", "employment", "employment history",
             "beruflicher hintergrund", "berufliche entwicklung", "erfahrung", "bisherige tätigkeiten",
             "beruflicher werdegang und praktika", "berufserfahrung und praktika"),
    "education": ("ausbildung", "schulbildung", "schul- und berufsausbildung", "schulausbildung", "bildungsweg",
                  "bildungsgang", "studium", "aus- und weiterbildung", "aus- und fortbildung", "weiterbildung",
                  "weiterbildungen", "fortbildung", "fortbildungen", "education", "schulische ausbildung",
                  "akademischer werdegang", "bildung", "berufsausbildung", "ausbildung und studium",
                  "studium und ausbildung", "schule und ausbildung", "qualifikationen und weiterbildungen",
                  "zertifikate", "zertifizierungen", "abschlüsse", "schulischer werdegang", "hochschulbildung",
                  "training", "certifications"),
    "skills": ("kenntnisse", "fähigkeiten", "skills", "kenntnisse und fähigkeiten", "fähigkeiten und kenntnisse",
               "fachkenntnisse", "edv-kenntnisse", "it-kenntnisse", "edv", "kompetenzen", "fachkompetenzen",
               "sprachkenntnisse", "sprachen", "besondere kenntnisse", "technische kenntnisse", "soft skills",
               "hard skills", "qualifikationen", "software", "tools", "technologien", "führerschein",
               "führerscheine", "sonstige kenntnisse", "weitere kenntnisse", "fachliche kompetenzen",
               "persönliche kompetenzen", "languages", "technical skills", "stärken", "schwerpunkte",
               "kenntnisse & fähigkeiten", "skills & kompetenzen"),
    "other": ("persönliche daten", "persönliche angaben", "angaben zur person", "zur person", "kontakt",
              "kontaktdaten", "profil", "kurzprofil", "über mich", "hobbys", "hobbies", "interessen",
              "freizeit", "ehrenamt", "ehrenamtliches engagement", "engagement", "referenzen", "sonstiges",
              "anlagen", "projekte", "publikationen", "zusammenfassung", "summary", "profile", "contact",
              "personal data", "persönliches", "mein profil", "berufsziel", "motivation"),
}
for _kind, _words in _HEADING_WORDS.items():
    for _word in _words:
        HEADINGS[_word] = _kind

# What decorates a heading ("=== Berufserfahrung ===", "| PROFIL |"), stripped with str.strip: linear, where a
# regex anchored at the end tried again from every character of a long run of them.
_HEADING_DECOR = "#*=_•·▪■►-–—|:" + "".join(chr(c) for c in range(0x3001) if chr(c).isspace())


def heading_kind(line: str) -> SectionKind | None:
    """The kind of section a line opens, or None when it is not a heading."""
    core = line.strip(_HEADING_DECOR).lower()
    core = re.sub(r"\s+", " ", core)
    if not core or len(core) > 45:
        return None
    return HEADINGS.get(core)


# ------------------------------------------------------------------ job and employer words

JOB_SUFFIXES = (
    "kraft", "fachkraft", "ingenieur", "ingenieurin", "entwickler", "entwicklerin", "techniker", "technikerin",
    "meister", "meisterin", "leiter", "leiterin", "manager", "managerin", "assistent", "assistentin", "berater",
    "beraterin", "pfleger", "pflegerin", "arbeiter", "arbeiterin", "helfer", "helferin", "fahrer", "fahrerin",
    "verkäufer", "verkäuferin", "elektroniker", "elektronikerin", "mechaniker", "mechanikerin", "mechatroniker",
    "mechatronikerin", "informatiker", "informatikerin", "wissenschaftler", "wissenschaftlerin", "kaufmann",
    "kauffrau", "referent", "referentin", "sachbearbeiter", "sachbearbeiterin", "disponent", "disponentin",
    "lagerist", "lageristin", "architekt", "architektin", "erzieher", "erzieherin", "koordinator", "koordinatorin",
    "spezialist", "spezialistin", "administrator", "administratorin", "analyst", "analystin", "designer",
    "designerin", "konstrukteur", "konstrukteurin", "monteur", "monteurin", "installateur", "installateurin",
    "koch", "köchin", "kellner", "kellnerin", "bäcker", "bäckerin", "tischler", "tischlerin", "schreiner",
    "schreinerin", "zimmerer", "maurer", "maurerin", "maler", "malerin", "lackierer", "lackiererin",
    "kommissionierer", "kommissioniererin", "staplerfahrer", "buchhalter", "buchhalterin", "controller",
    "controllerin", "sekretär", "sekretärin", "pädagoge", "pädagogin", "therapeut", "therapeutin", "arzt",
    "ärztin", "praktikant", "praktikantin", "auszubildender", "auszubildende", "werkstudent", "werkstudentin",
    "trainee", "engineer", "developer", "consultant", "operator", "bediener", "bedienerin", "servicekraft",
    "aushilfe", "gastronom", "hotelfachmann", "hotelfachfrau", "restaurantfachmann", "restaurantfachfrau",
    "fachmann", "fachfrau", "schlosser", "schlosserin", "schweißer", "schweißerin", "dreher", "dreherin",
    "gärtner", "gärtnerin", "kassierer", "kassiererin", "filialleiter", "filialleiterin", "einkäufer",
    "einkäuferin", "planer", "planerin", "prüfer", "prüferin", "inspektor", "inspektorin", "lehrer", "lehrerin",
    "dozent", "dozentin", "projektleiter", "projektleiterin", "teamleiter", "teamleiterin", "verwalter",
    "verwalterin", "betreuer", "betreuerin", "anwalt", "anwältin", "steuerberater", "steuerberaterin",
    "pflegefachfrau", "pflegefachmann", "krankenschwester", "krankenpfleger", "altenpfleger", "altenpflegerin",
    "leitung", "assistenz", "sachbearbeitung",
)
JOB_WORDS = {"senior", "junior", "staatlich", "examiniert", "examinierte", "examinierter", "geprüft", "geprüfte",
             "geprüfter", "gelernt", "gelernte", "gelernter", "stellvertretende", "stellvertretender", "leitende",
             "leitender", "ausbildung", "praktikum", "werkstudent", "aushilfe", "minijob", "azubi",
             "geschäftsführer", "geschäftsführerin", "inhaber", "inhaberin", "küchenchef", "chefkoch",
             "sous-chef", "souschef", "commis", "barista", "barkeeper", "servicemitarbeiter", "mitarbeiter",
             "mitarbeiterin", "fachinformatiker", "fachinformatikerin", "software", "backend", "frontend",
             "full-stack", "fullstack", "devops", "data", "ingenieur", "elektriker", "elektrikerin", "tischler",
             "koch", "pflegefachkraft"}
EMPLOYER_FORMS = re.compile(
    r"(?:\b(?:GmbH|gGmbH|mbH|AG|KG|KGaA|OHG|GbR|eG|SE|UG|Ltd|Inc|LLC|Co|PartG|AöR|KdöR|e\.\s?K|e\.\s?V|"
    r"Klinikum|Krankenhaus|Klinik|Kliniken|Universität|Universitätsklinikum|Hochschule|Fachhochschule|Uni|"
    r"Stadtwerke|Bank|Sparkasse|Volksbank|Hotel|Restaurant|Gasthaus|Gasthof|Brauhaus|Bäckerei|Konditorei|"
    r"Metzgerei|Praxis|Pflegedienst|Pflegeheim|Seniorenheim|Seniorenzentrum|Seniorenresidenz|Altenheim|"
    r"Spedition|Logistik|Markt|Supermarkt|Filiale|Gruppe|Group|Verwaltung|Amt|Landratsamt|Rathaus|Schule|"
    r"Gymnasium|Realschule|Gesamtschule|Hauptschule|Berufsschule|Berufsfachschule|Fachschule|Akademie|Institut|"
    r"Zentrum|Werk|Werke|Kita|Kindergarten|Agentur|Kanzlei|Versicherung|Versicherungen|Holding|Konzern|Betrieb|"
    r"Tischlerei|Schreinerei|Zimmerei|Dachdeckerei|Autohaus|Werkstatt|Apotheke|Brauerei|Café|Cafe|Kantine|"
    r"Bundeswehr|Polizei|Diakonie|Caritas|DRK|AWO|Stadt|Gemeinde|Landkreis|Handwerkskammer|IHK|HWK|Lager|"
    r"Hafen|Flughafen|Service|Services|Solutions|Systems|Consulting|Technologies|Software|Digital|Elektro|"
    r"Bau|Bauunternehmen|Haustechnik|Sanitär|Heizung|Reha|Rehazentrum|Sozialstation|Verlag|Bistro|Kaufhaus|"
    r"Warenhaus|Discounter|Baumarkt|Drogerie|Modehaus|Einzelhandel|Großhandel|Handel|Stiftung|Verein|Verband|"
    r"Ministerium|Behörde|Jobcenter|Agentur für Arbeit)\b|\bGmbH\b|&)", re.IGNORECASE)


def is_job_word(token: str) -> bool:
    """Whether a single word reads as (part of) a job title: ``Pflegefachkraft``, ``Senior``, ``Koch``."""
    word = token.lower().strip(".,:;()")
    if word in JOB_WORDS:
        return True
    return any(word.endswith(s) and len(word) > len(s) + 2 for s in JOB_SUFFIXES) or word in JOB_SUFFIXES


def looks_like_title(text: str) -> bool:
    if re.search(r"\((?:m|w|d|f)/", text, re.IGNORECASE):
        return True
    return any(is_job_word(w) for w in re.split(r"[\s/-]+", text) if w)


def looks_like_employer(text: str) -> bool:
    return bool(EMPLOYER_FORMS.search(text))


# ------------------------------------------------------------------ dates

_MONTH_ALT = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_YEAR = r"(?:19[5-9]\d|20[0-4]\d)"
_DATE = (rf"(?:\d{{1,2}}\.\d{{1,2}}\.{_YEAR}|(?:0?[1-9]|1[0-2])[./-]{_YEAR}|{_YEAR}[-/](?:0[1-9]|1[0-2])(?!\d)|"
         rf"(?:{_MONTH_ALT})\.?[ ]?{_YEAR}|{_YEAR})")
_OPEN = r"(?:heute|bis heute|jetzt|dato|bis dato|aktuell|laufend|derzeit|gegenwärtig|present|now|today|current)"
_SEP = r"(?:[ ]*[-–—][ ]*|[ ]+bis(?:[ ]+zum)?[ ]+|[ ]+to[ ]+|[ ]+until[ ]+|[ ]*/[ ]*(?=\D))"
RANGE = re.compile(
    rf"(?i)(?<![\w./-])(?:(?:von|vom|from)[ ]+)?(?P<start>{_DATE}){_SEP}(?P<end>{_DATE}|{_OPEN})(?![\w/-]|\.\d)"
    rf"|(?<![\w./-])(?:seit|ab|since|from)[ ]+(?P<since>{_DATE})(?![\w/-]|\.\d)")
SINGLE = re.compile(rf"(?i)^(?P<single>{_DATE})(?![\w/-]|\.\d)")
BULLET = re.compile(r"^[ \t]*(?:[•·▪■►◦‣∙*+]|-(?=\s)|–(?=\s)|\d{1,2}\)(?=\s))[ \t]*")


def parse_date(text: str, *, end: bool = False) -> date | None:
    """A date from one of the CV formats; a year alone is January (start) or December (end)."""
    t = text.strip().lower().rstrip(".")
    if m := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", t):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
        try:
            return date(year, month, day)
        except ValueError:
            return None
    if m := re.fullmatch(r"(\d{1,2})[./-](\d{4})", t):
        month, year = int(m[1]), int(m[2])
    elif m := re.fullmatch(r"(\d{4})[-/](\d{1,2})", t):
        year, month = int(m[1]), int(m[2])
    elif m := re.fullmatch(r"([a-zäöü]+)\.?\s?(\d{4})", t):
        month, year = MONTHS.get(m[1], 0), int(m[2])
    elif re.fullmatch(r"\d{4}", t):
        year, month = int(t), (12 if end else 1)
    else:
        return None
    if not 1 <= month <= 12:
        return None
    return date(year, month, 1)


def _range(m: re.Match[str]) -> tuple[date, date | None, bool] | None:
    if m.group("since"):
        start = parse_date(m.group("since"))
        return (start, None, True) if start else None
    start = parse_date(m.group("start"))
    end_text = m.group("end")
    if start is None:
        return None
    if re.fullmatch(_OPEN, end_text, re.IGNORECASE):
        return start, None, True
    end = parse_date(end_text, end=True)
    if end is None or end < start:
        return None
    return start, end, False


# ------------------------------------------------------------------ entries


class _Entry:
    def __init__(self, start: date, end: date | None, current: bool, period: str):
        self.start, self.end, self.current, self.period = start, end, current, period
        self.head: list[str] = []  # title/employer text in reading order
        self.description: list[str] = []


def _split_head(text: str) -> list[str]:
    pieces = [p for p in re.split(r"\s*(?:\t|\s\|\s|\||\s·\s|\s•\s|\s[-–—]\s|\sbei\s|\s@\s|\sat\s|:\s)\s*", text)
              if p and p.strip(" ,;")]
    return [p.strip(" ,;") for p in pieces]


def _head_pieces(head: list[str]) -> list[str]:
    pieces: list[str] = []
    for line in head:
        pieces.extend(_split_head(line))
    if len(pieces) == 1 and "," in pieces[0]:
        first, rest = pieces[0].split(",", 1)
        pieces = [first.strip(), rest.strip()]
    return [p for p in pieces if p]


def _title_employer(head: list[str]) -> tuple[str | None, str | None, str | None]:
    """(title, employer, location) from the entry's head lines."""
    pieces = _head_pieces(head)
    if not pieces:
        return None, None, None
    if len(pieces) >= 2 and looks_like_employer(pieces[0]) and not looks_like_employer(pieces[1]) \
            and not looks_like_title(pieces[0]):
        pieces[0], pieces[1] = pieces[1], pieces[0]
    title = pieces[0]
    employer = pieces[1] if len(pieces) > 1 else None
    location = pieces[2] if len(pieces) > 2 else None
    if employer and location is None and "," in employer:
        name, place = (s.strip() for s in employer.rsplit(",", 1))
        if name and _is_place(place):
            employer, location = name, place
    return _clip(title, MAX_TITLE), _clip(employer, MAX_TITLE), _clip(location, MAX_TITLE)


def _is_place(text: str) -> bool:
    return bool(re.fullmatch(r"(?:\[PLZ\] )?[A-ZÄÖÜ][\wäöüß.]+(?:[ -](?:am|an der|im|a\.\s?d\.|[A-ZÄÖÜ][\wäöüß.]+))*"
                             r"(?: \([A-Za-zÄÖÜäöü. ]+\))?", text)) and not looks_like_employer(text)


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = re.sub(r"\s+", " ", text).strip(" ,;:|-–—")
    return text[:limit] or None


def _is_sentence(line: str) -> bool:
    words = line.split()
    return line[:1].islower() or (line.rstrip().endswith(".") and len(words) > 6) or len(words) > 14


def _join_wrapped(lines: list[str]) -> list[str]:
    """A line that ends with a comma continues on the next (a PDF wraps long lines)."""
    out: list[str] = []
    for line in lines:
        if out and out[-1].rstrip().endswith(",") and line.strip() and not BULLET.match(line) \
                and heading_kind(line) is None and not RANGE.search(line):
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
            out.append("")  # keep the line count: indexes stay meaningful for the caller
        else:
            out.append(line)
    return out


def _entries(lines: list[str], single_dates: bool) -> list[_Entry]:
    """Entries of a work or education section (or the whole text)."""
    lines = _join_wrapped(lines)
    anchors: list[tuple[int, re.Match[str], tuple[date, date | None, bool]]] = []
    for i, line in enumerate(lines):
        if BULLET.match(line) or len(line) > 160:
            continue
        m = RANGE.search(line)
        if m and (parsed := _range(m)):
            anchors.append((i, m, parsed))
            continue
        if single_dates and (s := SINGLE.match(line.strip())):
            d = parse_date(s.group("single"))
            if d:
                end = parse_date(s.group("single"), end=True)
                anchors.append((i, s, (d, end, False)))
    if not anchors:
        return []
    content = [i for i, line in enumerate(lines) if line.strip()]
    first_line, first_match = lines[anchors[0][0]], anchors[0][1]
    first_rest = _split_head(_residual(first_line, first_match).strip(" \t|:,;()-–—"))
    # titles first: text above the first dates, and no title beside them ("Zalando SE, Berlin | 2020 – heute")
    title_first = (bool(content) and content[0] < anchors[0][0] and not BULLET.match(lines[content[0]])
                   and not (first_rest and looks_like_title(first_rest[0].split(",")[0])))
    entries: list[_Entry] = []
    owned: set[int] = set()
    for k, (i, m, (start, end, current)) in enumerate(anchors):
        line = lines[i]
        entry = _Entry(start, end, current, m.group(0).strip())
        owned.add(i)
        rest = _residual(line, m).strip(" \t|:,;()-–—")
        if title_first:
            lo = anchors[k - 1][0] + 1 if k else 0
            above: list[int] = []
            for j in range(i - 1, lo - 1, -1):
                if not lines[j].strip() or BULLET.match(lines[j]) or j in owned or len(above) == 2:
                    break
                if _is_sentence(lines[j]) and above:
                    break
                above.insert(0, j)
            if len(above) == 2 and rest and not looks_like_employer(lines[above[0]]) \
                    and not looks_like_title(lines[above[0]]) and looks_like_title(lines[above[1]]):
                above = above[1:]  # the line above the title belongs to the entry before
            entry.head = [lines[j].strip() for j in above] + ([rest] if rest else [])
            owned.update(above)
        elif rest:
            entry.head = [rest]
        entries.append(entry)
    # descriptions and date-first head lines: the lines after each anchor up to the next entry's lines
    for k, (i, _m, _p) in enumerate(anchors):
        entry = entries[k]
        stop = anchors[k + 1][0] if k + 1 < len(anchors) else len(lines)
        for j in range(i + 1, stop):
            if j in owned:
                break
            line = lines[j].strip()
            if not line:
                continue
            if heading_kind(line) is not None or ((label := _SKILL_LABEL.match(line))
                                                  and heading_kind(label.group("label")) is not None):
                break
            bullet = BULLET.match(lines[j])
            if not title_first and not bullet and not entry.description and len(entry.head) < 2 \
                    and not _is_sentence(line) and len(_split_head(line)) <= 3:
                heads = len(_head_pieces(entry.head))
                if heads < 2 or (heads == 2 and _is_place(line)):
                    entry.head.append(line)
                    continue
            entry.description.append(BULLET.sub("", lines[j]).strip() if bullet else line)
    return entries


def _residual(line: str, m: re.Match[str]) -> str:
    """The anchor line without its dates."""
    return (line[: m.start()] + "\t" + line[m.end():]) if m.re is RANGE else line.strip()[m.end():]


_EDUCATION_WORDS = re.compile(
    r"(?i)\b(?:abitur|fachabitur|fachhochschulreife|hochschulreife|mittlere reife|realschulabschluss|"
    r"hauptschulabschluss|schulabschluss|studium|bachelor|master|diplom|promotion|gymnasium|realschule|"
    r"gesamtschule|hauptschule|grundschule|berufsschule|berufsfachschule|universität|hochschule|fachhochschule|"
    r"ausbildung (?:zum|zur|als)|umschulung|meisterschule|weiterbildung|fortbildung|lehrgang|b\.\s?sc|m\.\s?sc|"
    r"b\.\s?a\.|m\.\s?a\.|staatsexamen)\b")


_SCHOOL = re.compile(r"(?i)schule|universität|hochschule|gymnasium|akademie|college|university|seminar\b")


def _work(entry: _Entry) -> WorkEntry:
    title, employer, location = _title_employer(entry.head)
    description = "\n".join(entry.description)[:MAX_DESCRIPTION] or None
    return WorkEntry(title=title, employer=employer, location=location, start_date=entry.start,
                     end_date=entry.end, current=entry.current, period=entry.period, description=description)


def _education(entry: _Entry) -> EducationEntry:
    head = entry.head + ([entry.description[0]] if not entry.head and entry.description else [])
    degree, institution, location = _title_employer(head)
    return EducationEntry(degree=degree, institution=institution, location=location, start_date=entry.start,
                          end_date=entry.end, current=entry.current, period=entry.period)


# ------------------------------------------------------------------ skills

_SKILL_SPLIT = re.compile(r"\s*(?:[,;•·▪■|]|\s[-–]\s|\t)\s*")
# Whitespace runs made one character first (a tab where the run has one: it separates): the split's \s* then
# never scans a long run again from each of its characters.
_WHITESPACE_RUN = re.compile(r"\s+")
_SKILL_LABEL = re.compile(r"^(?P<label>[A-ZÄÖÜa-zäöü][\wäöüß &/.+-]{1,40}?)\s*:\s*(?P<items>.+)$")


def _skills(lines: list[str]) -> list[str]:
    items: list[str] = []
    for raw in lines:
        line = BULLET.sub("", raw).strip()
        if not line or heading_kind(line) is not None:
            continue
        if m := _SKILL_LABEL.match(line):
            label, line = m.group("label").strip(), m.group("items")
            if label.lower() in {"führerschein", "führerscheine", "fahrerlaubnis"}:
                items.extend(f"Führerschein {x}" if not x.lower().startswith("führerschein") else x
                             for x in _split_skills(line))
                continue
        items.extend(_split_skills(line))
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        item = re.sub(r"\s+", " ", item).strip(" .;:-–")
        key = item.lower()
        if not item or key in seen or len(item) > MAX_SKILL or re.search(r"\[[A-ZÄÖÜ-]+\]", item) \
                or not re.search(r"[^\W\d_]", item):
            continue
        if len(item.split()) > 8:
            continue  # a sentence, not a skill
        seen.add(key)
        out.append(item)
    return out[:MAX_SKILLS]


def _split_skills(text: str) -> list[str]:
    # keep commas inside parentheses: "Englisch (C1, verhandlungssicher)"
    parts: list[str] = []
    depth, current = 0, ""
    for piece in re.split(r"([()])", text):
        if piece == "(":
            depth += 1
        elif piece == ")":
            depth = max(0, depth - 1)
        if depth or piece in "()":
            current += piece
        else:
            piece = _WHITESPACE_RUN.sub(lambda run: "\t" if "\t" in run.group() else " ", piece)
            chunks = _SKILL_SPLIT.split(piece)
            current += chunks[0]
            for chunk in chunks[1:]:
                parts.append(current)
                current = chunk
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


# ------------------------------------------------------------------ the whole CV

# "Hamburg, 01.03.2024", "Köln, den 5. Mai 2024", "Dortmund, im Februar 2024": the signature closes the CV
SIGNATURE = re.compile(rf"(?i)^(?:\[PLZ\] )?[A-ZÄÖÜ][\w. -]{{1,40}},[ ]+(?:den[ ]+|im[ ]+)?"
                       rf"(?:\d{{1,2}}\.[ ]?\d{{1,2}}\.[ ]?\d{{2,4}}|\d{{1,2}}\.?[ ]+(?:{_MONTH_ALT})\.?[ ]+\d{{4}}"
                       rf"|(?:{_MONTH_ALT})\.?[ ]+\d{{4}})$")


def sections(text: str) -> list[tuple[SectionKind | None, list[str]]]:
    """The text cut at its headings: (kind, lines) in order; the part before the first heading has kind None."""
    out: list[tuple[SectionKind | None, list[str]]] = [(None, [])]
    for line in text.split("\n"):
        kind = "other" if SIGNATURE.match(line.strip()) else heading_kind(line)
        if kind is not None:
            out.append((kind, []))
        else:
            out[-1][1].append(line)
    return [(k, lines) for k, lines in out if k is not None or any(x.strip() for x in lines)]


def parse_cv(text: str) -> CvDraft:
    """The draft of a CV text (anonymise it first: the draft keeps the text's words)."""
    parts = sections(text)
    draft = CvDraft()
    structured = any(kind in {"work", "education"} for kind, _ in parts)
    for kind, lines in parts:
        if kind == "work":
            draft.work_history.extend(_work(e) for e in _entries(lines, single_dates=False))
        elif kind == "education":
            draft.education.extend(_education(e) for e in _entries(lines, single_dates=True))
        elif kind == "skills":
            draft.skills.extend(s for s in _skills(lines) if s.lower() not in {x.lower() for x in draft.skills})
        elif kind is None and not structured:
            for entry in _entries(lines, single_dates=False):
                work = _work(entry)
                if _EDUCATION_WORDS.match(work.title or "") or _SCHOOL.search(work.employer or ""):
                    draft.education.append(_education(entry))
                else:
                    draft.work_history.append(work)
    # "Kenntnisse: a, b" lines outside a skills section (a CV without headings)
    for kind, lines in parts:
        if kind == "skills":
            continue
        labelled = [m.group("items") for line in lines if (m := _SKILL_LABEL.match(BULLET.sub("", line).strip()))
                    and heading_kind(m.group("label")) == "skills"]
        known = {x.lower() for x in draft.skills}
        draft.skills.extend(s for s in _skills(labelled) if s.lower() not in known)
    draft.skills = draft.skills[:MAX_SKILLS]
    draft.work_history = draft.work_history[:MAX_ENTRIES]
    draft.education = draft.education[:MAX_ENTRIES]
    return draft
