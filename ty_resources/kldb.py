"""Reader for the KldB 2010 (V. 2020) classification file of the BA.

Pure logic, no database and no Dagster: parse the file into codes, the
BERUFENET job titles (Berufsbenennungen) with their male and female readings,
and the hard negatives from ``Ausschlüsse``. See ``ty_resources/data/README.md``
for the file's quirks (lost leading zeros, gender forms, HTML entities).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ty_resources.settings import PACKAGE_DIR

BUNDLED_KLDB_PATH = PACKAGE_DIR / "data" / "kldb2010_v2020.csv"
CATALOGUE_NAME = "KldB2010-V2020"

EXPECTED_HEADER = [
    "Schlüssel KldB 2010, V. 2020",
    "Ebene",
    "Titel",
    "Kurztitel",
    "Allgemeine Bemerkungen",
    "Einschlüsse",
    "Umfasst ferner",
    "Ausschlüsse",
]


class CatalogueFileError(ValueError):
    """The file is not a KldB 2010 classification file (or is damaged)."""


@dataclass(frozen=True)
class KldbCode:
    code: str
    level: int
    title: str
    short_title: str
    remarks: str
    description: str

    @property
    def parent_code(self) -> str | None:
        return self.code[:-1] if self.level > 1 else None


@dataclass(frozen=True)
class Profession:
    berufenet_id: str
    name: str
    name_male: str
    name_female: str
    kldb_code: str

    @property
    def level(self) -> int:
        """Anforderungsniveau: 1 Helfer, 2 Fachkraft, 3 Spezialist, 4 Experte."""
        return int(self.kldb_code[4])

    @property
    def is_supervisor(self) -> bool:
        return self.kldb_code[3] == "9"

    @property
    def domain_code(self) -> str:
        return self.kldb_code[:2]


@dataclass(frozen=True)
class Exclusion:
    excluded_from_code: str
    title: str
    belongs_to_code: str


@dataclass(frozen=True)
class Catalogue:
    codes: list[KldbCode]
    professions: list[Profession]
    exclusions: list[Exclusion]
    sha256: str
    source: str

    @property
    def version(self) -> str:
        return f"{CATALOGUE_NAME}-{self.sha256[:12]}"

    def code_texts(self) -> dict[str, str]:
        """Every 5-digit code's text (:func:`code_text`), by code."""
        return {c.code: code_text(c.title, c.description) for c in self.codes if c.level == 5}


def code_text(title: str, description: str) -> str:
    """What a KldB code is, as the classifier and the similarity asset embed it: its title, a line break, its
    description. The catalogue's vector cache is keyed by these texts, so every caller must build them here."""
    return f"{title}\n{description}"


# --------------------------------------------------------------------------- text


def clean_text(text: str) -> str:
    """Decode HTML entities, make no-break spaces plain, one line per list item.

    The file separates list items with runs of three or more spaces.
    """
    text = html.unescape(text or "").replace("\xa0", " ")
    items = (re.sub(r"\s+", " ", item).strip() for item in re.split(r"\s{3,}", text))
    return "\n".join(item for item in items if item)


def _fold(word: str) -> str:
    """Lower case without umlauts/accents, for comparing word stems."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# ------------------------------------------------------------------ gender forms

_PAREN_ALTERNATIVES = re.compile(r"^(?P<stem>[^\W\d_][\w.-]*)\((?P<male>\w+)/(?P<female>\w+)\)(?P<rest>.*)$")
_SLASH_IN = re.compile(r"(?<=\w)/(in|innen)(?=$|[/,;-])")
_SLASH_R = re.compile(r"^(?P<female>.*\w)/(?P<ending>r|er|n)$")
_SLASH_DASH = re.compile(r"^(?P<male>.*\w)/(?:-(?P<dashed>\w+)|(?P<lower>[a-zäöüß]\w*))$")
_SLASH_WORDS = re.compile(r"^(?P<male>[\w.-]*\w)/(?P<female>[\w-]*\w)$")
# Word pairs that are no suffix rule, either order: 'Krankenschwester/-pfleger',
# 'Hebamme/Entbindungspfleger', 'Hausvater/-mutter', 'Dompteur/Dompteuse'.
_PAIRED_ENDINGS = (
    ("entbindungspfleger", "hebamme"),
    ("pfleger", "schwester"),
    ("vater", "mutter"),
    ("bursche", "mädchen"),
    ("modelleur", "direktrice"),
    ("steward", "stewardess"),
    ("eur", "euse"),
)
_EDGE_PUNCT = re.compile(r"^(?P<lead>[(\"„]*)(?P<core>.*?)(?P<trail>[),;:\"“]*)$")


def _replace_tail(male: str, female_tail: str) -> str | None:
    """``Kaufmann`` + ``frau`` -> ``Kauffrau``; ``Assistenzarzt`` + ``ärztin`` -> ``Assistenzärztin``."""
    if male.endswith("mann") and female_tail in {"frau", "frauen"}:
        return male[: -len("mann")] + female_tail
    if male.endswith("man") and female_tail == "woman":
        return male[: -len("man")] + female_tail
    folded_male, folded_tail = _fold(male), _fold(female_tail)
    for size in (4, 3):
        if len(folded_tail) < size:
            continue
        at = folded_male.rfind(folded_tail[:size])
        if at > 0:
            return male[:at] + female_tail
    if female_tail in {"in", "innen"}:
        return male + female_tail
    return None


def _paired_forms(first: str, second: str) -> tuple[str, str] | None:
    dashed = second.startswith("-")
    second = second.lstrip("-")
    f_first, f_second = first.casefold(), second.casefold()
    for male_end, female_end in _PAIRED_ENDINGS:
        for a_end, b_end, first_is_male in ((male_end, female_end, True), (female_end, male_end, False)):
            if f_first.endswith(a_end) and f_second.endswith(b_end):
                other = first[: len(first) - len(a_end)] + second if dashed else second
                return (first, other) if first_is_male else (other, first)
    return None


def _is_female_of(male: str, female: str) -> bool:
    """``Koch``/``Köchin``, ``Arzt``/``Ärztin``, ``Ökotrophologe``/``Ökotrophologin``, ``Kaufmann``/``Kauffrau``."""
    m, f = _fold(male), _fold(female)
    if m.endswith("mann") and f.endswith("frau"):
        return m[:-4] == f[:-4]
    if not f.endswith("in") or len(f) < 4:
        return False
    stem = f[:-2]
    if "-" in m and "-" not in f:  # 'EDV-Pädagoge/Pädagogin': the female names the last part
        m = m.rsplit("-", 1)[1]
    return m.startswith(stem[: max(1, len(stem) - 1)]) and len(stem) >= len(m) - 2


def _expand_token(token: str) -> tuple[str, str]:
    match = _EDGE_PUNCT.match(token)
    assert match is not None  # the pattern matches any string
    lead, core, trail = match.group("lead", "core", "trail")
    # Keep an opening '(' that belongs to the core: 'Beamt(er/in)'
    if core.count("(") > core.count(")") and trail.startswith(")"):
        core, trail = core + ")", trail[1:]
    male, female = _expand_core(core)
    return lead + male + trail, lead + female + trail


def _expand_core(core: str) -> tuple[str, str]:
    if "/" not in core:
        return core, core
    if m := _PAREN_ALTERNATIVES.match(core):  # Beamt(er/in), Gehilf(e/in)
        stem, rest = m.group("stem"), m.group("rest")
        return stem + m.group("male") + rest, stem + m.group("female") + rest
    if _SLASH_IN.search(core):  # Verkäufer/in, Kranken-/Altenpfleger/in, Hauswart/in/Haustechniker/in
        return _SLASH_IN.sub("", core), _SLASH_IN.sub(r"\1", core)
    if m := _SLASH_R.match(core):  # Kaufmännische/r, Angestellte/r, Beamte/r
        return m.group("female") + m.group("ending"), m.group("female")
    if paired := _paired_forms(*core.split("/", 1)):
        return paired
    if (m := _SLASH_WORDS.match(core)) and _is_female_of(m.group("male"), m.group("female")):
        male, female = m.group("male"), m.group("female")
        if "-" in male and "-" not in female:  # EDV-Pädagoge/Pädagogin
            female = male.rsplit("-", 1)[0] + "-" + female
        return male, female  # Koch/Köchin, Arzt/Ärztin
    if m := _SLASH_DASH.match(core):  # Kaufmann/-frau, Zahnarzt/-ärztin, Dipl.-Kaufmann/frau
        female = _replace_tail(m.group("male"), m.group("dashed") or m.group("lower"))
        if female is not None:
            return m.group("male"), female
        return core, core
    return core, core  # 'Elektro/Sanitär', 'Mikrob./Virol.': not a gender form


def expand_gender_forms(name: str) -> tuple[str, str]:
    """The male and the female reading of a catalogue title.

    >>> expand_gender_forms("Kaufmännische/r Angestellte/r")
    ('Kaufmännischer Angestellter', 'Kaufmännische Angestellte')
    """
    pairs = [_expand_token(token) for token in name.split()]
    return " ".join(p[0] for p in pairs), " ".join(p[1] for p in pairs)


# ------------------------------------------------------------------------ parse

_PROFESSION_ITEM = re.compile(r"(\d{5}-\d{3})\s+(.+?)(?=\s+\d{5}-\d{3}\s|\s*$)", re.S)
_EXCLUSION_ITEM = re.compile(r"^(?P<title>.*\S)\s*\((?P<code>\d{1,5})\)$")


def _parse_professions(code: str, text: str) -> Iterable[Profession]:
    text = html.unescape(text).replace("\xa0", " ")
    _, sep, listing = text.partition(":")
    for berufenet_id, raw_name in _PROFESSION_ITEM.findall(listing if sep else text):
        name = re.sub(r"\s+", " ", raw_name).strip()
        if not berufenet_id.startswith(code):
            raise CatalogueFileError(f"job title {berufenet_id} {name!r} is listed under code {code}")
        male, female = expand_gender_forms(name)
        yield Profession(berufenet_id, name, male, female, code)


def _parse_exclusions(code: str, text: str) -> Iterable[Exclusion]:
    head, _, listing = html.unescape(text).replace("\xa0", " ").partition(":")
    if not head.strip().startswith("Nicht einzubeziehende Berufe"):
        return  # levels 3-4 list positions ('012 Unteroffiziere'), not job titles
    for item in re.split(r"\s{2,}", listing.strip()):
        if m := _EXCLUSION_ITEM.match(item):
            yield Exclusion(code, re.sub(r"\s+", " ", m.group("title")), m.group("code"))


def parse_kldb(data: bytes, source: str = "<bytes>") -> Catalogue:
    """Parse the classification file's bytes (UTF-8, optional BOM, ';'-separated)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogueFileError(f"{source}: not UTF-8 ({exc})") from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise CatalogueFileError(f"{source}: broken CSV near line {reader.line_num}: {exc}") from exc
    if not rows or [c.strip() for c in rows[0][: len(EXPECTED_HEADER)]] != EXPECTED_HEADER:
        found = rows[0][: len(EXPECTED_HEADER)] if rows else "nothing"
        raise CatalogueFileError(f"{source}: expected the header {EXPECTED_HEADER}, found {found}")

    codes: list[KldbCode] = []
    professions: list[Profession] = []
    exclusions: list[Exclusion] = []
    seen_codes: set[str] = set()
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(EXPECTED_HEADER):
            raise CatalogueFileError(f"{source}: line {line_no} has {len(row)} fields, expected {len(EXPECTED_HEADER)}")
        key, level_text = row[0].strip(), row[1].strip()
        if not key.isdigit() or level_text not in {"1", "2", "3", "4", "5"}:
            raise CatalogueFileError(f"{source}: line {line_no}: bad key {key!r} or level {level_text!r}")
        level = int(level_text)
        if len(key) > level:
            raise CatalogueFileError(f"{source}: line {line_no}: key {key} is longer than level {level} allows")
        code = key.zfill(level)  # the file lost leading zeros: '1104' at level 5 is '01104'
        if code in seen_codes:
            raise CatalogueFileError(f"{source}: line {line_no}: code {code} appears twice")
        seen_codes.add(code)
        codes.append(
            KldbCode(
                code=code,
                level=level,
                title=clean_text(row[2]),
                short_title=clean_text(row[3]),
                remarks=clean_text(row[4]),
                description=clean_text(row[5]),
            )
        )
        if level == 5:
            professions.extend(_parse_professions(code, row[6]))
            exclusions.extend(_parse_exclusions(code, row[7]))

    ids = Counter(p.berufenet_id for p in professions)
    if repeated := sorted(i for i, n in ids.items() if n > 1):
        raise CatalogueFileError(f"{source}: job title ids listed more than once: {repeated[:10]}")
    return Catalogue(
        codes=codes,
        professions=professions,
        exclusions=list(dict.fromkeys(exclusions)),
        sha256=hashlib.sha256(data).hexdigest(),
        source=source,
    )


def read_kldb(path: Path | None = None) -> Catalogue:
    path = Path(path or BUNDLED_KLDB_PATH)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogueFileError(f"cannot read the KldB file {path}: {exc}") from exc
    return parse_kldb(data, source=str(path))
