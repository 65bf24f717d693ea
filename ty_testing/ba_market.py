"""The postings a strict BA test server answers from: one day's market as columns, with the API's filters.

A :class:`Market` holds every posting of a day as numpy columns (Land or country, city, Berufsfeld, offer
type, fixed-term, working-time models, temporary-agency flag, publication date, open or withdrawn) plus the
search item each one is served as. Filtering a query is a handful of vectorised comparisons, so a
260,000-posting day answers a page in milliseconds; items are built only for the page served.

Filter semantics (``GET /pc/v4/jobs``; where the API's documentation is silent, the stricter reading):

- ``angebotsart``: one of 1 (ARBEIT), 2 (SELBSTAENDIGKEIT), 4 (AUSBILDUNG/Duales Studium), 34
  (PRAKTIKUM/TRAINEE); absent: every type.
- ``wo``: free text, matched without case against the posting's region (Land), country, city and PLZ;
  with ``umkreis`` (km) and a city the market knows, every posting within that distance of the city.
- ``berufsfeld``: free text, a case-free *substring* of the posting's Berufsfeld (so a short value can
  match several fields, as free text does on the real API).
- ``arbeitszeit``: ``;``-separated of vz, tz, snw, ho, mj: postings with any of them.
- ``befristung``: ``;``-separated of 1 (befristet), 2 (unbefristet); a posting may have neither.
- ``zeitarbeit``: ``false`` leaves temporary-agency postings out; ``true`` (the default) keeps them.
- ``veroeffentlichtseit``: 0..100, published within that many days of the market's day.
- ``arbeitgeber``: the employer's name, exactly. ``was``: a case-free substring of title or profession.

Results are ordered newest first (publication date, then refnr, descending); a posting that arrives while
a client pages goes to the top and pushes every later one a place down, and one withdrawn pulls them up.
The answer's ``facetten`` count the filtered postings per value of each splitting filter, keyed by the
value that filter accepts.

The Berufsfelder are the 37 KldB 2010 Berufshauptgruppen (the real API's Berufsfelder are the BA's own
grouping of similar size; their names are not public data in this repository).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from ty_resources.kldb import Catalogue
from ty_resources.offers import OFFER_TYPES, offer_code
from ty_resources.snapshot import Snapshot

WORKING_TIMES: dict[str, str] = {
    "vz": "VOLLZEIT", "tz": "TEILZEIT", "snw": "SCHICHT_NACHTARBEIT_WOCHENENDE", "ho": "HEIM_TELEARBEIT",
    "mj": "MINIJOB",
}
WORKING_TIME_BITS = {key: 1 << i for i, key in enumerate(WORKING_TIMES)}
FIXED_TERM = {1: "BEFRISTET", 2: "UNBEFRISTET"}
MAX_WINDOW_DAYS = 100
UNKNOWN_FIELD = "Keine Zuordnung möglich"


class MarketQueryError(ValueError):
    """A parameter value the API rejects (answered with 400)."""


@dataclass(frozen=True)
class Place:
    region: str  # a Land, or for postings abroad a region of that country or ""
    country: str
    city: str
    plz: str
    lat: float
    lon: float


@dataclass
class Market:
    """One day's postings (see the module docstring). Grow it with :meth:`arrive`, shrink with :meth:`withdraw`."""

    day: date
    places: list[Place]
    fields: list[str]
    employers: list[str]
    items: list[dict[str, Any]]  # the search item of each posting, by row
    place: np.ndarray  # int32 index into places
    field_id: np.ndarray  # int32 index into fields
    employer: np.ndarray  # int32 index into employers
    offer: np.ndarray  # int16 offer type code
    fixed_term: np.ndarray  # int8: 0 none, 1 befristet, 2 unbefristet
    working_time: np.ndarray  # int8 bit mask of WORKING_TIME_BITS
    agency: np.ndarray  # bool
    published: np.ndarray  # int32 days before ``day`` (0 = today)
    active: np.ndarray  # bool: open, not withdrawn
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    profession: np.ndarray | None = None  # int32 index into professions (generated markets)
    professions: list[Any] = field(default_factory=list)  # kldb.Profession
    activities: dict[str, list[str]] = field(default_factory=dict)  # KldB code -> activity lines (descriptions)

    def __post_init__(self) -> None:
        self._refresh_places()
        self._order = self._sorted_rows()
        self._row_of: dict[str, int] | None = None  # refnr -> row, built on the first detail asked for

    # ------------------------------------------------------------------ shape
    def __len__(self) -> int:
        return len(self.items)

    @property
    def open_count(self) -> int:
        return int(self.active.sum())

    def open_count_of_offer(self, code: int) -> int:
        return int((self.active & (self.offer == code)).sum())

    def open_refnrs(self) -> set[str]:
        return {self.items[i]["refnr"] for i in np.flatnonzero(self.active)}

    def detail(self, refnr: str) -> dict[str, Any] | None:
        """The posting's JobDetails: the stored ones, or for a generated posting made from its item; None for
        an unknown or withdrawn posting (the API answers 404)."""
        if refnr in self.details:
            return self.details[refnr]
        if self.profession is None:
            return None
        if self._row_of is None:
            self._row_of = {item["refnr"]: row for row, item in enumerate(self.items)}
        row = self._row_of.get(refnr)
        if row is None or not self.active[row]:
            return None
        item = self.items[row]
        p = self.professions[int(self.profession[row])]
        lines = self.activities.get(p.kldb_code, [])[:5]
        tasks = "".join(f"<li>{line}</li>" for line in lines)
        text = (f"<p><b>{item['arbeitgeber']}</b> sucht für {item['arbeitsort'].get('ort', '')} eine/n</p>"
                f"<p><b>{item['titel']}</b></p><p><b>Ihre Aufgaben:</b></p><ul>{tasks}</ul>"
                f"<p>Bewerbung bitte unter Angabe der Referenznummer {refnr}.</p>")
        working = [name for key, name in WORKING_TIMES.items() if int(self.working_time[row]) & WORKING_TIME_BITS[key]]
        detail: dict[str, Any] = {
            "referenznummer": refnr, "stellenangebotsTitel": item["titel"], "stellenangebotsBeschreibung": text,
            "arbeitgeber": item["arbeitgeber"], "arbeitsorte": [item["arbeitsort"]],
            "angebotsart": OFFER_TYPES[int(self.offer[row])], "arbeitszeitmodelle": working,
            "aktuelleVeroeffentlichungsdatum": item["aktuelleVeroeffentlichungsdatum"],
        }
        if int(self.fixed_term[row]):
            detail["befristung"] = FIXED_TERM[int(self.fixed_term[row])]
        if bool(self.agency[row]):
            detail["branchengruppe"] = "Arbeitnehmerüberlassung, Zeitarbeit"
        return detail

    def _refresh_places(self) -> None:
        self._place_lat = np.array([p.lat for p in self.places])
        self._place_lon = np.array([p.lon for p in self.places])
        self._place_keys = [
            {key.casefold() for key in (p.region, p.country, p.city, p.plz) if key} for p in self.places
        ]
        self._place_facet = [p.region or p.country for p in self.places]

    def _sorted_rows(self) -> np.ndarray:
        refnr_rank = np.argsort(np.argsort(np.array([item["refnr"] for item in self.items], dtype=object)))
        # newest first, then refnr descending: lexsort sorts by the last key first
        return np.lexsort((-refnr_rank, self.published)).astype(np.int64)

    # --------------------------------------------------------------- queries
    def select(self, params: Mapping[str, str]) -> np.ndarray:
        """The rows a query matches, in the API's order."""
        mask = self.active.copy()
        if "angebotsart" in params:
            code = _int_param(params, "angebotsart")
            if code not in OFFER_TYPES:
                raise MarketQueryError(f"angebotsart={params['angebotsart']!r} is not one of {sorted(OFFER_TYPES)}")
            mask &= self.offer == code
        if "veroeffentlichtseit" in params:
            days = _int_param(params, "veroeffentlichtseit")
            if not 0 <= days <= MAX_WINDOW_DAYS:
                raise MarketQueryError(f"veroeffentlichtseit={days} is not between 0 and {MAX_WINDOW_DAYS}")
            mask &= self.published <= days
        if "wo" in params:
            mask &= self._where(params["wo"], params.get("umkreis"))
        if "berufsfeld" in params:
            needle = params["berufsfeld"].strip().casefold()
            wanted = [i for i, name in enumerate(self.fields) if needle and needle in name.casefold()]
            mask &= np.isin(self.field_id, wanted)
        if "arbeitszeit" in params:
            bits = 0
            for key in _list_param(params, "arbeitszeit"):
                if key not in WORKING_TIME_BITS:
                    raise MarketQueryError(f"arbeitszeit value {key!r} is not one of {list(WORKING_TIME_BITS)}")
                bits |= WORKING_TIME_BITS[key]
            mask &= (self.working_time & bits) != 0
        if "befristung" in params:
            values = []
            for key in _list_param(params, "befristung"):
                if key not in ("1", "2"):
                    raise MarketQueryError(f"befristung value {key!r} is not 1 or 2")
                values.append(int(key))
            mask &= np.isin(self.fixed_term, values)
        if "zeitarbeit" in params:
            value = params["zeitarbeit"].strip().lower()
            if value not in ("true", "false"):
                raise MarketQueryError(f"zeitarbeit={params['zeitarbeit']!r} is not true or false")
            if value == "false":
                mask &= ~self.agency
        if "arbeitgeber" in params:
            wanted = [i for i, name in enumerate(self.employers) if name == params["arbeitgeber"]]
            mask &= np.isin(self.employer, wanted)
        if "was" in params:
            needle = params["was"].strip().casefold()
            hits = [needle in (item.get("titel", "") + " " + item.get("beruf", "")).casefold() for item in self.items]
            mask &= np.array(hits, dtype=bool)
        return self._order[mask[self._order]]

    def _where(self, wo: str, umkreis: str | None) -> np.ndarray:
        key = wo.strip().casefold()
        if umkreis is not None:
            try:
                radius = float(umkreis)
            except ValueError:
                raise MarketQueryError(f"umkreis={umkreis!r} is not a number") from None
            centres = [i for i, p in enumerate(self.places) if p.city.casefold() == key]
            if centres:
                centre = self.places[centres[0]]
                near = _distance_km(centre.lat, centre.lon, self._place_lat, self._place_lon) <= radius
                return near[self.place]
        matching = np.array([key in keys for keys in self._place_keys], dtype=bool)
        return matching[self.place]

    def facets(self, rows: np.ndarray) -> dict[str, dict[str, int]]:
        """Counts of the rows per value of each splitting filter, keyed by the value the filter accepts."""
        def count(values: np.ndarray, names: Sequence[str]) -> dict[str, int]:
            totals: dict[str, int] = {}
            for index, n in enumerate(np.bincount(values, minlength=len(names))):
                if n:
                    totals[names[index]] = totals.get(names[index], 0) + int(n)
            return totals

        working = {key: int(((self.working_time[rows] & bit) != 0).sum()) for key, bit in WORKING_TIME_BITS.items()}
        fixed = np.bincount(self.fixed_term[rows], minlength=3)
        agency = int(self.agency[rows].sum())
        offers = {str(code): int((self.offer[rows] == code).sum()) for code in OFFER_TYPES}
        return {
            "arbeitsort": count(self.place[rows], self._place_facet),
            "berufsfeld": count(self.field_id[rows], self.fields),
            "arbeitszeit": {k: v for k, v in working.items() if v},
            "befristung": {str(k): int(fixed[k]) for k in (1, 2) if fixed[k]},
            "zeitarbeit": {k: v for k, v in (("true", agency), ("false", len(rows) - agency)) if v},
            "angebotsart": {k: v for k, v in offers.items() if v},
        }

    # ----------------------------------------------------------------- churn
    def withdraw(self, row: int) -> None:
        self.active[row] = False

    def arrive(self, template_row: int, refnr: str) -> int:
        """A new posting published today, like ``template_row`` otherwise; it goes to the top of every list."""
        row = len(self.items)
        self.items.append({**self.items[template_row], "refnr": refnr,
                           "aktuelleVeroeffentlichungsdatum": self.day.isoformat()})
        for name in ("place", "field_id", "employer", "offer", "fixed_term", "working_time", "agency", "profession"):
            column = getattr(self, name)
            if column is not None:
                setattr(self, name, np.append(column, column[template_row]))
        if self._row_of is not None:
            self._row_of[refnr] = row
        self.published = np.append(self.published, np.int32(0))
        self.active = np.append(self.active, True)
        self._order = np.concatenate(([row], self._order))
        return row

    def next_day(self, catalogue: Catalogue, *, new: int, gone: int, seed: int, **options: Any) -> Market:
        """The market a day later: ``gone`` open postings withdrawn, ``new`` ones published (drawn as
        :meth:`generate` draws them, with the same ``options``), everything else a day older."""
        rng = np.random.default_rng(seed)
        keep = np.flatnonzero(self.active)
        keep = np.sort(rng.choice(keep, size=len(keep) - min(gone, len(keep)), replace=False))
        fresh = Market.generate(catalogue, day=self.day + timedelta(days=1), postings=new, seed=seed, **options)
        if (fresh.places, fresh.fields, fresh.employers) != (self.places, self.fields, self.employers):
            raise ValueError("next_day needs the options the market was generated with")
        taken = {self.items[i]["refnr"] for i in keep}
        for n, item in enumerate(fresh.items):
            while item["refnr"] in taken:
                item["refnr"] = f"10001-{1_300_000_000 + n}-S"
                n += len(fresh.items)
            taken.add(item["refnr"])

        def joined(name: str) -> np.ndarray:
            return np.concatenate((getattr(self, name)[keep], getattr(fresh, name)))

        return Market(day=fresh.day, places=self.places, fields=self.fields, employers=self.employers,
                      items=[self.items[i] for i in keep] + fresh.items, place=joined("place"),
                      field_id=joined("field_id"), employer=joined("employer"), offer=joined("offer"),
                      fixed_term=joined("fixed_term"), working_time=joined("working_time"), agency=joined("agency"),
                      published=np.concatenate((self.published[keep] + 1, np.zeros(new, dtype=np.int32))),
                      active=np.ones(len(keep) + new, dtype=bool),
                      profession=joined("profession") if self.profession is not None else None,
                      professions=self.professions, activities=self.activities)

    # ----------------------------------------------------------- constructors
    @classmethod
    def generate(cls, catalogue: Catalogue, *, day: date, postings: int, seed: int = 1,
                 abroad_share: float = 0.01, agency_share: float = 0.3,
                 offer_shares: Mapping[int, float] | None = None, laender: Sequence[str] | None = None,
                 noisy_titles: bool = False) -> Market:
        """A realistic day at any scale: Länder by population, professions by the sample's weights, and the
        shares of offer types, working times, fixed terms and temporary agencies of the BA's statistics
        (rounded). ``laender``: only these Länder (and no postings abroad). ``noisy_titles``: titles as job
        boards write them (the sample's noise); else the profession's name with ``(m/w/d)``."""
        if laender is not None:
            abroad_share = 0.0
        from ty_resources import sample  # the sample's places and profession weights

        rng = np.random.default_rng(seed)
        gen = sample._Generator(catalogue, seed)
        places: list[Place] = []
        place_weights: list[float] = []
        for land, population in sample.LAENDER_POPULATION.items():
            if laender is not None and land not in laender:
                continue
            cities = sample.CITIES[land]
            city_weights = [1.0 / (i + 1) ** 0.7 for i in range(len(cities))]
            for (city, plz, lat, lon), w in zip(cities, city_weights):
                places.append(Place(land, "Deutschland", city, plz, lat, lon))
                place_weights.append((1 - abroad_share) * population * w / sum(city_weights))
        german_total = sum(place_weights)
        place_weights = [w / german_total * (1 - abroad_share) for w in place_weights]
        for country, region, city, plz, lat, lon in sample.ABROAD if abroad_share else ():
            places.append(Place(region, country, city, plz, lat, lon))
            place_weights.append(abroad_share / len(sample.ABROAD))
        place = rng.choice(len(places), size=postings, p=np.array(place_weights) / sum(place_weights))

        cum = np.array(gen.profession_cum)
        profession_rows = np.searchsorted(cum, rng.random(postings) * cum[-1], side="right")
        professions = gen.professions
        titles = {c.code: c.title for c in catalogue.codes if c.level == 2}
        fields = sorted(set(titles.values())) + [UNKNOWN_FIELD]
        field_index = {name: i for i, name in enumerate(fields)}
        field_of = np.array([field_index[titles.get(p.domain_code, UNKNOWN_FIELD)] for p in professions])
        field_id = field_of[profession_rows].astype(np.int32)

        shares = offer_shares or {1: 0.875, 4: 0.09, 34: 0.03, 2: 0.005}
        codes = np.array(list(shares), dtype=np.int16)
        offer = rng.choice(codes, size=postings, p=np.array(list(shares.values())) / sum(shares.values()))
        fixed_term = rng.choice(np.array([2, 1, 0], dtype=np.int8), size=postings, p=[0.7, 0.25, 0.05])
        base = rng.choice(np.array([1, 3, 2, 16], dtype=np.int8), size=postings, p=[0.68, 0.15, 0.13, 0.04])
        extra = (rng.random(postings) < 0.1) * 4 + (rng.random(postings) < 0.08) * 8
        working_time = (base | extra).astype(np.int8)
        agency = (rng.random(postings) < agency_share) & (offer == 1)
        published = np.minimum(rng.exponential(20.0, size=postings).astype(np.int32), MAX_WINDOW_DAYS + 20)

        employers = [f"{sample._SURNAMES[i % len(sample._SURNAMES)]} {suffix}"
                     for i, suffix in enumerate(("GmbH", "AG", "KG", "GmbH & Co. KG", "e.V.") * 400)]
        employer = np.minimum(rng.zipf(1.6, size=postings) - 1, len(employers) - 1).astype(np.int32)

        refnrs = _refnrs(rng, postings, day, published)
        items = []
        for i in range(postings):
            p = professions[profession_rows[i]]
            where = places[place[i]]
            if noisy_titles:
                title = gen.title_for(p, sample._SECTOR_BY_DOMAIN.get(p.domain_code, "generic"), where.city)[0]
            else:
                title = f"{p.name} (m/w/d)"
            arbeitsort: dict[str, Any] = {"plz": where.plz, "ort": where.city}
            if where.region:
                arbeitsort["region"] = where.region
            arbeitsort.update(land=where.country, koordinaten={"lat": where.lat, "lon": where.lon})
            items.append({
                "beruf": p.name, "titel": title, "refnr": refnrs[i], "arbeitsort": arbeitsort,
                "arbeitgeber": employers[employer[i]],
                "aktuelleVeroeffentlichungsdatum": (day - timedelta(days=int(published[i]))).isoformat(),
            })
        return cls(day=day, places=places, fields=fields, employers=employers, items=items,
                   place=place.astype(np.int32), field_id=field_id, employer=employer, offer=offer,
                   fixed_term=fixed_term, working_time=working_time, agency=agency, published=published,
                   active=np.ones(postings, dtype=bool), profession=profession_rows.astype(np.int32),
                   professions=professions, activities=_activities(catalogue))

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, day: str | None = None, catalogue: Catalogue | None = None) -> Market:
        """One day of a snapshot, each distinct posting once; filter values from its details (and the
        Berufsfeld from the snapshot's truth, when a catalogue is given)."""
        key = day or snapshot.day_keys[-1]
        refnrs = list(dict.fromkeys(snapshot.days[key]))
        items = [snapshot.postings[refnr] for refnr in refnrs]
        titles = {c.code: c.title for c in catalogue.codes if c.level == 2} if catalogue else {}
        fields = sorted(set(titles.values())) + [UNKNOWN_FIELD]
        field_index = {name: i for i, name in enumerate(fields)}
        places: list[Place] = []
        place_index: dict[Place, int] = {}
        employers: list[str] = []
        employer_index: dict[str, int] = {}
        columns: dict[str, list[int]] = {name: [] for name in (
            "place", "field_id", "employer", "offer", "fixed_term", "working_time", "agency", "published")}
        the_day = date.fromisoformat(key)
        for item in items:
            detail = snapshot.details.get(item["refnr"], {})
            where = item.get("arbeitsort") or {}
            coordinates = where.get("koordinaten") or {}
            place = Place(where.get("region", ""), where.get("land", ""), where.get("ort", ""),
                          str(where.get("plz", "")), float(coordinates.get("lat", 0.0)),
                          float(coordinates.get("lon", 0.0)))
            columns["place"].append(place_index.setdefault(place, len(places)))
            if len(place_index) > len(places):
                places.append(place)
            truth = snapshot.truth.get(item["refnr"], "")
            columns["field_id"].append(field_index[titles.get(truth[:2], UNKNOWN_FIELD)])
            name = item.get("arbeitgeber", "")
            columns["employer"].append(employer_index.setdefault(name, len(employers)))
            if len(employer_index) > len(employers):
                employers.append(name)
            columns["offer"].append(offer_code(item.get("angebotsart") or detail.get("angebotsart")) or 1)
            columns["fixed_term"].append({"BEFRISTET": 1, "UNBEFRISTET": 2}.get(detail.get("befristung", ""), 0))
            bits = 0
            for name in detail.get("arbeitszeitmodelle", ["VOLLZEIT"]):
                for key_, long_name in WORKING_TIMES.items():
                    if long_name == name:
                        bits |= WORKING_TIME_BITS[key_]
            columns["working_time"].append(bits)
            columns["agency"].append(int("zeitarbeit" in (detail.get("branchengruppe") or "").casefold()))
            published = date.fromisoformat(item.get("aktuelleVeroeffentlichungsdatum") or key)
            columns["published"].append(max(0, (the_day - published).days))
        dtypes = {"place": np.int32, "field_id": np.int32, "employer": np.int32, "offer": np.int16,
                  "fixed_term": np.int8, "working_time": np.int8, "agency": bool, "published": np.int32}
        a = {name: np.array(values, dtype=dtypes[name]) for name, values in columns.items()}
        return cls(day=the_day, places=places, fields=fields, employers=employers, items=items,
                   place=a["place"], field_id=a["field_id"], employer=a["employer"], offer=a["offer"],
                   fixed_term=a["fixed_term"], working_time=a["working_time"], agency=a["agency"],
                   published=a["published"], active=np.ones(len(items), dtype=bool), details=snapshot.details)


def _activities(catalogue: Catalogue) -> dict[str, list[str]]:
    from ty_resources.sample import _activity_lines

    return {c.code: _activity_lines(c.description) for c in catalogue.codes if c.level == 5}


def _int_param(params: Mapping[str, str], name: str) -> int:
    try:
        return int(params[name])
    except ValueError:
        raise MarketQueryError(f"{name}={params[name]!r} is not a whole number") from None


def _list_param(params: Mapping[str, str], name: str) -> list[str]:
    return [part.strip().lower() for part in params[name].split(";") if part.strip()]


def _distance_km(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distance (haversine) from one point to many, in km."""
    p1, p2 = math.radians(lat), np.radians(lats)
    dp, dl = p2 - p1, np.radians(lons - lon)
    a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def _refnrs(rng: np.random.Generator, n: int, day: date, published: np.ndarray) -> list[str]:
    """Unique refnrs like the real ones (``10000-1184867112-S``), the middle number growing with the date."""
    base = 1_100_000_000 + ((day - date(2020, 1, 1)).days - published.astype(np.int64)) * 40_000
    numbers = base + rng.integers(0, 40_000, size=n)
    out: list[str] = []
    used: set[str] = set()
    for number in numbers.tolist():
        refnr = f"10000-{number}-S"
        while refnr in used:
            number += 1
            refnr = f"10000-{number}-S"
        used.add(refnr)
        out.append(refnr)
    return out
