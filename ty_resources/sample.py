"""The offline sample of the BA job search API: a deterministic snapshot generated from the catalogue.

Pure Python (stdlib only): no Dagster, no database. :func:`generate_snapshot` turns a seed and the
KldB/BERUFENET catalogue into several days of open job postings in the API's shapes (the file format is
:mod:`ty_resources.snapshot`): ``stellenangebote[]`` items of ``GET /pc/v4/jobs`` per day (in API order, with
the odd refnr repeated as the live API does across pages) and ``JobDetails`` of
``GET /pc/v4/jobdetails/{base64(refnr)}`` (a refnr without details answers 404). ``truth`` keeps the BERUFENET
id each posting was made from, for evaluating the classifier; it is not part of the API's shape.

Same arguments give byte-identical JSON: all randomness comes from one ``random.Random(seed)``, and nothing
iterates a set or depends on string hashing.

Titles imitate German job boards: the catalogue's male, female or printed (``Verkäufer/in``) form with gender
markers, seniority, working time, place, shift and "ab sofort" noise; about 5% vague titles (``Helfer (m/w/d)``)
and 2% with a typo. Places are the 16 Länder weighted by population (Destatis, 31.12.2023, rounded) with real
cities, PLZ and approximate coordinates; about 1% abroad and 0.5% without a region. The word lists (places,
common professions, employers, advertising phrases) are data: ``data/sample_vocabulary.json``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import random
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any

from ty_resources.settings import PACKAGE_DIR
from ty_resources.snapshot import SNAPSHOT_FORMAT, Snapshot

VOCABULARY_PATH = PACKAGE_DIR / "data" / "sample_vocabulary.json"
_VOCABULARY: dict[str, Any] = json.loads(VOCABULARY_PATH.read_text(encoding="utf-8"))


def _weighted(name: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """A ``{choice: weight}`` list of the vocabulary as (choices, weights)."""
    entries = _VOCABULARY[name]
    return tuple(entries), tuple(entries.values())


# Places: population per Land, a few real cities per Land as (ort, plz, lat, lon), some places abroad as
# (land, region or "", ort, plz, lat, lon), street names.
LAENDER_POPULATION: dict[str, int] = _VOCABULARY["laender_population"]
CITIES: dict[str, list[tuple[str, str, float, float]]] = {
    land: [tuple(city) for city in cities] for land, cities in _VOCABULARY["cities"].items()
}
ABROAD: list[tuple[str, str, str, str, float, float]] = [tuple(place) for place in _VOCABULARY["abroad"]]
STREETS: list[str] = _VOCABULARY["streets"]
# Common job-board professions by their catalogue name as printed, roughly most common first; those in the
# catalogue at hand share HEAD_SHARE of all postings (Zipf over this order). The rest share the remainder,
# Zipf over a seeded shuffle.
HEAD_PROFESSIONS: tuple[str, ...] = tuple(_VOCABULARY["head_professions"])
HEAD_SHARE = 0.4  # share of postings that go to HEAD_PROFESSIONS (those in the catalogue at hand)
LEVEL_FACTOR = {1: 1.2, 2: 2.5, 3: 1.0, 4: 0.8}
_ODD_NAME = re.compile(r"Ausbildung|Auszubildende|Student|Praktikant|Volontär|Anwärter|Referendar|Lehrling")
_DEGREE_PAREN = re.compile(r"\s*\((?:Uni|FH|FS|BA|TH|Hochschule|Bachelor|Master|Diplom)\)")

# Sectors by KldB domain (first two digits) decide employers, vague words and intros.
_SECTOR_BY_DOMAIN: dict[str, str] = _VOCABULARY["sector_by_domain"]
_SURNAMES: tuple[str, ...] = tuple(_VOCABULARY["surnames"])
_WORDS: tuple[str, ...] = tuple(_VOCABULARY["words"])
_EMPLOYER_TEMPLATES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _VOCABULARY["employer_templates"].items()}
_SECTOR_INTRO: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _VOCABULARY["sector_intro"].items()}
_VAGUE_AREA: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _VOCABULARY["vague_area"].items()}
GENDER_MARKERS, _GENDER_WEIGHTS = _weighted("gender_markers")
_SEPARATORS, _SEP_WEIGHTS = _weighted("separators")
_WORKTIME, _WORKTIME_WEIGHTS = _weighted("worktime")
_SHIFTS: tuple[str, ...] = tuple(_VOCABULARY["shifts"])
_EXTRAS: tuple[str, ...] = tuple(_VOCABULARY["extras"])
_SHIFT_SECTORS: tuple[str, ...] = tuple(_VOCABULARY["shift_sectors"])
_OFFERS: tuple[str, ...] = tuple(_VOCABULARY["offers"])
_PROFILE_BY_LEVEL: dict[int, tuple[str, ...]] = {int(k): tuple(v) for k, v in _VOCABULARY["profile_by_level"].items()}
_PROFILE_COMMON: tuple[str, ...] = tuple(_VOCABULARY["profile_common"])


# ------------------------------------------------------------------- helpers


def _zipf_cum(n: int, s: float, q: float = 0.0) -> list[float]:
    return list(accumulate(1.0 / (rank + 1 + q) ** s for rank in range(n)))


def _pick(rng: random.Random, items: Sequence[Any], cum: Sequence[float]) -> Any:
    return items[min(bisect_right(cum, rng.random() * cum[-1]), len(items) - 1)]


def _b64hash(*parts: object) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _slug(name: str) -> str:
    text = name.casefold()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    words = re.findall(r"[a-z0-9]+", text)
    words = [w for w in words if w not in {"gmbh", "co", "kg", "ag", "se", "e", "v", "ggmbh", "mbh", "eg", "k"}]
    return "-".join(words[:3]) or "arbeitgeber"


def _typo(rng: random.Random, text: str) -> str:
    """Swap two neighbouring letters or drop one, inside a word of five letters or more."""
    words = [m for m in re.finditer(r"[^\W\d_]{5,}", text)]
    if not words:
        return text
    word = rng.choice(words)
    w = word.group()
    for _ in range(10):
        i = rng.randrange(1, len(w) - 1)
        if rng.random() < 0.5 and w[i] != w[i + 1]:
            new = w[:i] + w[i + 1] + w[i] + w[i + 2:]
        else:
            new = w[:i] + w[i + 1:]
        if new != w:
            return text[: word.start()] + new + text[word.end():]
    return text


def _activity_lines(text: str) -> list[str]:
    """The catalogue's activity text as list items: capitalised, long run-ons cut at a comma or space."""
    lines = []
    for line in text.splitlines():
        line = line.strip().rstrip(";,.")
        if len(line) < 15:
            continue
        if len(line) > 170:
            cut = line.rfind(", ", 60, 170)
            cut = cut if cut > 0 else line.rfind(" ", 60, 170)
            line = line[: cut if cut > 0 else 170]
        lines.append(line[0].upper() + line[1:])
    return lines


@dataclass
class _Employer:
    name: str
    sector: str
    home: tuple[str, str, str, float, float]  # region, ort, plz, lat, lon
    national: bool
    kundennummer_hash: str | None
    named_after_city: bool = False


@dataclass
class _Plan:
    """One posting's fate in the window: on from ``first`` to ``last`` (day indexes), off in the gap."""

    refnr: str
    first: int
    last: int
    gap_start: int = -1
    gap_len: int = 0

    def open_on(self, day: int) -> bool:
        return self.first <= day <= self.last and not (self.gap_start <= day < self.gap_start + self.gap_len)


# ----------------------------------------------------------------- generator


class _Generator:
    def __init__(self, catalogue: Any, seed: int):
        self.rng = random.Random(seed)
        self.seed = seed
        self.codes = {c.code: c for c in catalogue.codes}
        self._lines_cache: dict[str, list[str]] = {}
        self._setup_professions(catalogue.professions)
        self._setup_places()

    # ---- professions
    def _setup_professions(self, professions: list[Any]) -> None:
        if not professions:
            raise ValueError("the catalogue has no professions to generate postings from")
        rng = self.rng
        ordered = sorted(professions, key=lambda p: p.berufenet_id)
        by_name: dict[str, Any] = {}
        for p in ordered:
            by_name.setdefault(p.name, p)
        head = [by_name[name] for name in HEAD_PROFESSIONS if name in by_name]  # curated order: most common first
        tail = list(ordered)
        rng.shuffle(tail)
        weights: dict[str, float] = {}
        if head:
            head_cum = _zipf_cum(len(head), 0.8)
            prev = 0.0
            for p, c in zip(head, head_cum):
                weights[p.berufenet_id] = HEAD_SHARE * (c - prev) / head_cum[-1]
                prev = c
        tail_share = 1.0 - (HEAD_SHARE if head else 0.0)
        raw = []
        for rank, p in enumerate(tail):
            w = LEVEL_FACTOR.get(p.level, 1.0) / (rank + 30)
            if p.domain_code == "01" or _ODD_NAME.search(p.name) or p.name.count(".") >= 2 or len(p.name) > 60:
                w *= 0.05
            raw.append(w)
        total = sum(raw)
        for p, w in zip(tail, raw):
            weights[p.berufenet_id] = weights.get(p.berufenet_id, 0.0) + tail_share * w / total
        self.professions = ordered
        self.profession_cum = list(accumulate(weights[p.berufenet_id] for p in ordered))

    def pick_profession(self) -> Any:
        return _pick(self.rng, self.professions, self.profession_cum)

    # ---- places
    def _setup_places(self) -> None:
        self.places: list[tuple[str, str, str, float, float]] = []
        weights = []
        for land, population in LAENDER_POPULATION.items():
            cities = CITIES[land]
            city_w = [1.0 / (i + 1) ** 0.7 for i in range(len(cities))]
            total = sum(city_w)
            for (ort, plz, lat, lon), w in zip(cities, city_w):
                self.places.append((land, ort, plz, lat, lon))
                weights.append(population * w / total)
        self.place_cum = list(accumulate(weights))

    def pick_place(self) -> tuple[str, str, str, float, float]:
        return _pick(self.rng, self.places, self.place_cum)

    # ---- employers
    def setup_employers(self, n_postings: int) -> None:
        rng = self.rng
        count = max(60, n_postings // 6)
        sectors = list(_EMPLOYER_TEMPLATES)
        sector_w = list(accumulate([18 if s in ("zeitarbeit", "generic") else 8 for s in sectors]))
        names: dict[str, None] = {}
        pools: dict[str, list[_Employer]] = {s: [] for s in sectors}
        for _ in range(count):
            sector = _pick(rng, sectors, sector_w)
            home = self.pick_place()
            for _attempt in range(8):
                template = rng.choice(_EMPLOYER_TEMPLATES[sector])
                name = template.format(
                    S=rng.choice(_SURNAMES), S2=rng.choice(_SURNAMES), W=rng.choice(_WORDS), C=home[1])
                if name not in names:
                    break
            else:
                continue
            names[name] = None
            pools[sector].append(_Employer(
                name=name, sector=sector, home=home,
                national=sector == "zeitarbeit" or (rng.random() < 0.1 and "{C}" not in template),
                named_after_city="{C}" in template,
                kundennummer_hash=None if rng.random() < 0.12 else _b64hash("kunde", self.seed, name),
            ))
        # The big ones (each pool's Zipf head) and some others post all over the country; the
        # rest post where they are. A posting's Land is drawn first, by population, so the
        # employers' skew cannot skew the Länder.
        national: dict[str, list[_Employer]] = {}
        local: dict[tuple[str, str], list[_Employer]] = {}
        self.all_employers = []
        for sector, pool in pools.items():
            heads = max(1, len(pool) // 20)
            for employer in pool:
                if heads and not employer.named_after_city:
                    employer.national, heads = True, heads - 1
                if employer.national:
                    national.setdefault(sector, []).append(employer)
                else:
                    local.setdefault((sector, employer.home[0]), []).append(employer)
                self.all_employers.append(employer)
        self.national = {key: (pool, _zipf_cum(len(pool), 1.0, q=3)) for key, pool in national.items()}
        self.local = {key: (pool, _zipf_cum(len(pool), 1.0, q=1)) for key, pool in local.items()}

    def pick_employer(self, sector: str, level: int, land: str) -> _Employer:
        rng = self.rng
        r = rng.random()
        if r < (0.08 if level == 4 else 0.2):
            order = [("national", "zeitarbeit")]
        else:
            wanted = sector if r < 0.85 else "generic"
            order = [("local", wanted), ("national", wanted)]
            if rng.random() < 0.35:
                order.reverse()
            order += [("local", "generic"), ("national", "generic")]
        for kind, key in order:
            found = self.national.get(key) if kind == "national" else self.local.get((key, land))
            if found:
                return _pick(rng, *found)
        return rng.choice(self.all_employers)

    def place_for(self, employer: _Employer, drawn: tuple[str, str, str, float, float]) -> dict[str, Any]:
        """Where the posting is: a local employer's home mostly, else the place drawn for it."""
        rng = self.rng
        r = rng.random()
        if r < 0.01:
            land, region, ort, plz, lat, lon = rng.choice(ABROAD)
            place: dict[str, Any] = {"plz": plz, "ort": ort}
            if region:
                place["region"] = region
            place["land"] = land
        else:
            at_home = not employer.national and employer.home[0] == drawn[0] and rng.random() < 0.85
            region, ort, plz, lat, lon = employer.home if at_home else drawn
            place = {"plz": plz, "ort": ort, "region": region, "land": "Deutschland"}
            if r < 0.015:  # no region at all: the state is unknown
                del place["region"]
        if rng.random() < 0.45:  # an address: coordinates near the city's centre, else the centre itself
            place["strasse"] = f"{rng.choice(STREETS)} {rng.randint(1, 120)}"
            lat, lon = round(lat + rng.uniform(-0.04, 0.04), 7), round(lon + rng.uniform(-0.06, 0.06), 7)
        place["koordinaten"] = {"lat": lat, "lon": lon}
        return place

    # ---- titles
    def base_name(self, p: Any, lossy: bool = True) -> tuple[str, bool]:
        """The profession's name as a job board might print it, and whether that is the female form.
        ``lossy``: also drop what can name another profession (the degree in brackets, the specialisation
        after ' - '), as many boards do; the random draws are the same either way."""
        rng = self.rng
        r = rng.random()
        female = 0.5 <= r < 0.62 and p.name_female != p.name_male
        if r < 0.5:
            name = p.name_male
        elif r < 0.62:
            name = p.name_female
        elif r < 0.92 or "/in" not in p.name:
            name = p.name
        else:
            name = p.name.replace("/in", rng.choice(("*in", ":in")))
        if rng.random() < 0.8 and lossy:
            name = _DEGREE_PAREN.sub("", name)
        if name.startswith("Fachkraft - ") and rng.random() < 0.5:
            name = "Fachkraft für " + name[len("Fachkraft - "):]
        elif " - " in name and rng.random() < 0.2 and lossy:
            name = name.split(" - ", 1)[0]
        return name.strip(), female

    def title_for(self, p: Any, sector: str, ort: str, lossy: bool = True) -> tuple[str, str]:
        """The posting's title and its kind: plain, vague or typo (``lossy``: see ``base_name``)."""
        rng = self.rng
        marker = rng.choices(GENDER_MARKERS, _GENDER_WEIGHTS)[0]
        if rng.random() < 0.05:
            return self._vague_title(p, sector, marker), "vague"
        kind = "plain"
        name, female = self.base_name(p, lossy)
        if rng.random() < 0.02:
            typo = _typo(rng, name)
            if typo != name:
                name, kind = typo, "typo"
        if rng.random() < 0.88:
            words = name.split(" ")
            if len(words) > 1 and rng.random() < 0.2 and not words[0].endswith(("-", "/")):
                name = f"{words[0]} {marker} {' '.join(words[1:])}"
            else:
                name = f"{name} {marker}"
        if rng.random() < 0.07 and p.level >= 2:
            options = ["Junior", "Teamleiterin" if female else "Teamleiter"]
            if p.level >= 3 or p.is_supervisor:
                options += ["Senior", "Senior"]
                if "leit" not in name.casefold():
                    options.append("Leitende" if female else "Leitender")
            name = f"{rng.choice(options)} {name}"
        suffixes = []
        if rng.random() < 0.16:
            worktime = rng.choices(_WORKTIME, _WORKTIME_WEIGHTS)[0]
            if worktime == "Minijob" and p.level >= 3:
                worktime = "Teilzeit"
            suffixes.append(worktime)
        if rng.random() < 0.12:
            suffixes.append(rng.choice((f"in {ort}", f"für unseren Standort {ort}", ort, f"in {ort} und Umgebung")))
        if rng.random() < (0.06 if sector in _SHIFT_SECTORS else 0.01):
            suffixes.append(rng.choice(_SHIFTS))
        if rng.random() < 0.1:
            suffixes.append(rng.choice(_EXTRAS))
        if suffixes:
            rng.shuffle(suffixes)
            sep = rng.choices(_SEPARATORS, _SEP_WEIGHTS)[0]
            for part in suffixes:
                glue = " " if part.startswith(("in ", "im ", "für ", "(")) and rng.random() < 0.6 else sep
                name += glue + part
        return name, kind

    def _vague_title(self, p: Any, sector: str, marker: str) -> str:
        rng = self.rng
        area = rng.choice(_VAGUE_AREA.get(sector, _VAGUE_AREA["generic"]))
        options = [f"Mitarbeiter {marker} {area}", f"Mitarbeiter {area} {marker}", f"Aushilfe {marker}",
                   f"Allrounder {marker}", f"Quereinsteiger {marker} {area}", f"Mitarbeiter {marker}"]
        if p.level == 1:
            options += [f"Helfer {marker}", f"Helfer {marker}", f"Aushilfe {area} {marker}", f"Kraft {marker} {area}"]
        if p.level == 2:
            options += [f"Fachkraft {marker} {area}", "Teamverstärkung gesucht!"]
        if sector == "buero":
            options += [f"Sachbearbeiter {marker}", f"Sachbearbeiter {marker}"]
        if sector == "industrie":
            options += [f"Produktionsmitarbeiter {marker}"]
        return rng.choice(options)

    # ---- descriptions
    def lines_for(self, code: str) -> list[str]:
        if code not in self._lines_cache:
            lines: list[str] = []
            probe: str | None = code
            while probe and not lines:
                kldb = self.codes.get(probe)
                lines = _activity_lines(kldb.description) if kldb is not None else []
                probe = probe[:-1] if len(probe) > 1 else None
            self._lines_cache[code] = lines
        return self._lines_cache[code]

    def description(self, item: dict[str, Any], p: Any, employer: _Employer, sector: str) -> str:
        rng = self.rng
        esc = html.escape
        home = employer.home[1]
        intro_sector = employer.sector if employer.sector in _SECTOR_INTRO else "generic"
        intro = rng.choice(_SECTOR_INTRO[intro_sector]).format(
            home=esc(home), n=rng.randint(10, 120), m=rng.choice((25, 40, 80, 150, 300, 1200, 4500)),
            k=rng.randint(3, 40))
        ort = item["arbeitsort"].get("ort", "")
        when = rng.choice(("ab sofort", "zum nächstmöglichen Zeitpunkt", "zur Verstärkung unseres Teams"))
        parts = [f"<p><b>{esc(employer.name)}</b> {intro}</p>",
                 f"<p>Für unseren Standort in {esc(ort)} suchen wir {when} eine/n</p>",
                 f"<p><b>{esc(item['titel'])}</b></p>"]
        lines = self.lines_for(p.kldb_code)
        if lines:
            take = sorted(rng.sample(range(len(lines)), min(len(lines), rng.randint(3, 5))))
            tasks = "".join(f"<li>{esc(lines[i])}</li>" for i in take)
            parts.append(f"<p><b>Ihre Aufgaben:</b></p><ul>{tasks}</ul>")
        name = _DEGREE_PAREN.sub("", p.name)
        profile = [line.format(name=esc(name)) for line in _PROFILE_BY_LEVEL.get(p.level, _PROFILE_BY_LEVEL[2])]
        profile += rng.sample(_PROFILE_COMMON, 2)
        parts.append("<p><b>Ihr Profil:</b></p><ul>" + "".join(f"<li>{line}</li>" for line in profile) + "</ul>")
        offers = rng.sample(_OFFERS, 4)
        parts.append("<p><b>Wir bieten:</b></p><ul>" + "".join(f"<li>{o}</li>" for o in offers) + "</ul>")
        how = rng.choice((f" per E-Mail an bewerbung@{_slug(employer.name)}.de", " über unser Karriereportal",
                          " – gerne auch per WhatsApp", ""))
        parts.append(f"<p>Haben wir Ihr Interesse geweckt? Dann freuen wir uns auf Ihre Bewerbung{how} "
                     f"unter Angabe der Referenznummer {item['refnr']}.</p>")
        return "".join(parts)


def _working_time_models(title: str, rng: random.Random) -> list[str]:
    models = []
    if "Voll- oder Teilzeit" in title or "Vollzeit / Teilzeit" in title:
        models = ["VOLLZEIT", "TEILZEIT"]
    elif "Teilzeit" in title:
        models = ["TEILZEIT"]
    elif "Minijob" in title:
        models = ["MINIJOB"]
    elif "Vollzeit" in title:
        models = ["VOLLZEIT"]
    else:
        models = ["VOLLZEIT"] if rng.random() < 0.75 else ["VOLLZEIT", "TEILZEIT"]
    if any(word in title for word in ("Schicht", "schicht")):
        models.append("SCHICHT_NACHTARBEIT_WOCHENENDE")
    return models


def generate_snapshot(
    catalogue: Any,
    *,
    seed: int = 42,
    days: int = 7,
    postings: int = 20_000,
    end_date: date,
    beruf_share: float = 0.6,
) -> Snapshot:
    """``postings`` distinct postings over ``days`` days ending at ``end_date`` (inclusive).

    About 40% are open on the first day (published up to 30 days before it), the
    rest appear over the following days. Each lives a few days to beyond the
    window; about 3% are off for 1-2 days and come back; about 0.5% of each day's
    list repeats a refnr already in it. About 97% have details. ``beruf`` (the
    catalogue name as printed) is on a ``beruf_share`` fraction of the postings.
    """
    if isinstance(end_date, datetime):
        end_date = end_date.date()
    if not isinstance(end_date, date):
        raise TypeError(f"end_date must be a date, not {type(end_date).__name__}")
    if days < 1 or postings < 1:
        raise ValueError(f"days and postings must be at least 1 (got days={days}, postings={postings})")
    if not 0.0 <= beruf_share <= 1.0:
        raise ValueError(f"beruf_share must be between 0 and 1 (got {beruf_share})")

    gen = _Generator(catalogue, seed)
    rng = gen.rng
    gen.setup_employers(postings)
    day_dates = [end_date - timedelta(days=days - 1 - i) for i in range(days)]

    # ---- fates: first day, last day, gap
    pool = postings if days == 1 else max(1, round(0.4 * postings))
    plans: list[_Plan] = []
    used: dict[str, None] = {}
    first_days = [0] * pool + sorted(1 + rng.randrange(days - 1) for _ in range(postings - pool))
    published: list[date] = []
    for first in first_days:
        pub = day_dates[first] - timedelta(days=rng.randint(0, 30) if first == 0 else 0)
        refnr = _refnr(rng, pub, used)
        r = rng.random()
        lifetime = rng.randint(1, 3) if r < 0.25 else rng.randint(4, 10) if r < 0.55 else rng.randint(11, 60)
        plans.append(_Plan(refnr, first, min(days - 1, first + lifetime - 1)))
        published.append(pub)
    eligible = [i for i, plan in enumerate(plans) if plan.last - plan.first >= 2]
    for i in rng.sample(eligible, min(len(eligible), round(0.03 * postings))):
        plan = plans[i]
        plan.gap_len = 2 if plan.last - plan.first >= 3 and rng.random() < 0.4 else 1
        plan.gap_start = rng.randint(plan.first + 1, plan.last - plan.gap_len)

    # ---- the postings themselves
    items: dict[str, dict[str, Any]] = {}
    details: dict[str, dict[str, Any]] = {}
    truth: dict[str, str] = {}
    kinds = {"plain": 0, "vague": 0, "typo": 0}
    examples: dict[str, list[str]] = {"plain": [], "vague": [], "typo": []}
    with_beruf = 0
    for plan, pub in zip(plans, published):
        p = gen.pick_profession()
        sector = _SECTOR_BY_DOMAIN.get(p.domain_code, "generic")
        drawn = gen.pick_place()
        employer = gen.pick_employer(sector, p.level, drawn[0])
        place = gen.place_for(employer, drawn)
        title, kind = gen.title_for(p, sector, place["ort"])
        kinds[kind] += 1
        if len(examples[kind]) < 5:
            examples[kind].append(title)
        first_seen = day_dates[plan.first]
        modified_on = pub + timedelta(days=rng.randint(0, (first_seen - pub).days))
        modified = datetime.combine(modified_on, datetime.min.time()) + timedelta(
            seconds=rng.randint(6 * 3600, 20 * 3600), milliseconds=rng.randint(0, 999))
        item: dict[str, Any] = {"hashId": _b64hash("job", seed, plan.refnr)}
        if rng.random() < beruf_share:
            item["beruf"] = p.name
            with_beruf += 1
        item.update({"titel": title, "refnr": plan.refnr, "arbeitsort": place, "arbeitgeber": employer.name,
                     "aktuelleVeroeffentlichungsdatum": pub.isoformat()})
        r = rng.random()
        if r < 0.45:
            item["eintrittsdatum"] = (pub + timedelta(days=0 if r < 0.2 else rng.randint(1, 90))).isoformat()
        item["modifikationsTimestamp"] = modified.isoformat(timespec="milliseconds")
        item["kundennummerHash"] = employer.kundennummer_hash
        if rng.random() < 0.3:
            item["externeUrl"] = rng.choice((
                f"https://www.{_slug(employer.name)}.de/karriere/stellenangebote/{rng.randint(1000, 99999)}",
                f"https://jobs.{_slug(employer.name)}.de/job/{rng.randint(100000, 999999)}",
                f"https://karriere.{_slug(employer.name)}.de/?jobId={rng.randint(10000, 99999)}",
            ))
        items[plan.refnr] = item
        truth[plan.refnr] = p.berufenet_id
        if rng.random() < 0.97:
            details[plan.refnr] = _detail(gen, item, p, employer, sector)

    # ---- each day's list, in API order, with duplicates across pages
    day_lists: dict[str, list[str]] = {}
    duplicates = 0
    for index, day in enumerate(day_dates):
        open_refnrs = [plan.refnr for plan in plans if plan.open_on(index)]
        rng.shuffle(open_refnrs)
        n = len(open_refnrs)
        inserts: list[tuple[int, str]] = []
        if n >= 4:
            for original in rng.sample(range(n), max(1, round(0.005 * n))):
                target = original
                while abs(target - original) <= 1:
                    target = rng.randrange(n + 1)
                inserts.append((target, open_refnrs[original]))
        inserts.sort(key=lambda pair: pair[0])
        listing: list[str] = []
        k = 0
        for position, refnr in enumerate(open_refnrs):
            while k < len(inserts) and inserts[k][0] == position:
                listing.append(inserts[k][1])
                k += 1
            listing.append(refnr)
        listing.extend(refnr for _, refnr in inserts[k:])
        duplicates += len(inserts)
        day_lists[day.isoformat()] = listing

    meta = {
        "format": SNAPSHOT_FORMAT,
        "generator": "ty_resources.snapshot",
        "seed": seed,
        "days": [d.isoformat() for d in day_dates],
        "end_date": end_date.isoformat(),
        "postings": postings,
        "catalogue_version": getattr(catalogue, "version", None),
        "beruf_share": beruf_share,
        "with_beruf": with_beruf,
        "with_details": len(details),
        "duplicates": duplicates,
        "reappearing": sum(1 for plan in plans if plan.gap_len),
        "title_kinds": kinds,
        "title_examples": examples,
    }
    # Storage order only (the API order is in day_lists): postings grouped by employer and details
    # by KldB code put repeated names, hashes and activity texts within gzip's 32 KiB window.
    by_employer = sorted(items, key=lambda refnr: (items[refnr]["arbeitgeber"], refnr))
    by_code = sorted(details, key=lambda refnr: (truth[refnr][:5], refnr))
    return Snapshot(
        meta=meta,
        postings={refnr: items[refnr] for refnr in by_employer},
        days=day_lists,
        details={refnr: details[refnr] for refnr in by_code},
        truth={refnr: truth[refnr] for refnr in sorted(truth)},
    )


_REFNR_PREFIXES = ("10000", "10001", "12265", "11000", "14054")
_REFNR_PREFIX_CUM = list(accumulate((72, 14, 6, 4, 4)))


def _refnr(rng: random.Random, published: date, used: dict[str, None]) -> str:
    """Like the real ones (``10000-1184867112-S``): the middle number grows with the publication date."""
    base = 1_100_000_000 + max(0, (published - date(2020, 1, 1)).days) * 40_000
    while True:
        refnr = f"{_pick(rng, _REFNR_PREFIXES, _REFNR_PREFIX_CUM)}-{base + rng.randrange(40_000)}-S"
        if refnr not in used:
            used[refnr] = None
            return refnr


def _detail(gen: _Generator, item: dict[str, Any], p: Any, employer: _Employer, sector: str) -> dict[str, Any]:
    rng = gen.rng
    title = item["titel"]
    detail: dict[str, Any] = {
        "referenznummer": item["refnr"],
        "stellenangebotsTitel": title,
        "stellenangebotsBeschreibung": gen.description(item, p, employer, sector),
        "arbeitgeber": employer.name,
        "arbeitgeberKundennummerHash": employer.kundennummer_hash,
        "arbeitsorte": [{**item["arbeitsort"], "koordinaten": dict(item["arbeitsort"]["koordinaten"])}],
        "angebotsart": "ARBEIT",
        "arbeitszeitmodelle": _working_time_models(title, rng),
        "befristung": "BEFRISTET" if "befristet" in title and "unbefristet" not in title
        else rng.choice(("UNBEFRISTET", "UNBEFRISTET", "UNBEFRISTET", "BEFRISTET")),
        "aktuelleVeroeffentlichungsdatum": item["aktuelleVeroeffentlichungsdatum"],
        "ersteVeroeffentlichungsdatum": item["aktuelleVeroeffentlichungsdatum"],
        "modifikationsTimestamp": item["modifikationsTimestamp"],
        "anzahlOffeneStellen": rng.choice((1, 1, 1, 1, 2, 3, 5)),
    }
    if "beruf" in item:
        detail["beruf"] = item["beruf"]
    if "eintrittsdatum" in item:
        detail["eintrittsdatum"] = item["eintrittsdatum"]
    if "externeUrl" in item:
        detail["allianzpartner"] = _slug(employer.name) + ".de"
        detail["allianzpartnerUrl"] = item["externeUrl"]
    if rng.random() < 0.25:
        detail["verguetung"] = rng.choice(("nach Tarif", "Entgeltgruppe 8 TVöD", "Entgeltgruppe 13 TV-L",
                                           f"{rng.randint(14, 24)},{rng.choice(('00', '50'))} EUR pro Stunde",
                                           f"{rng.randint(32, 85)}.000 EUR brutto im Jahr"))
    return detail


def noisy_titles(catalogue: Any, professions: list[Any], *, seed: int, vague: bool = False,
                 lossy: bool = False) -> list[tuple[str, str]]:
    """Posting-style titles for the given professions, with the snapshot's own noise (gender markers,
    seniority, working time, place, shift words, female forms, typos): ``(title, kind)`` each, kind in
    plain / typo (and vague if ``vague``). ``lossy``: also the shortenings that lose what tells a profession
    from its siblings (degree, specialisation). For evaluation sets; deterministic for a seed."""
    gen = _Generator(catalogue, seed)
    out = []
    for p in professions:
        sector = _SECTOR_BY_DOMAIN.get(p.domain_code, "generic")
        while True:
            ort = gen.pick_place()[1]
            title, kind = gen.title_for(p, sector, ort, lossy)
            if vague or kind != "vague":
                break
        out.append((title, kind))
    return out
