"""A deterministic offline snapshot of the BA job search API, generated from the occupation catalogue.

Pure Python (stdlib only): no Dagster, no database. ``generate_snapshot`` turns a
seed and the KldB/BERUFENET catalogue into several days of open job postings in
the API's shapes: ``stellenangebote[]`` items of ``GET /pc/v4/jobs`` per day (in
API order, with the odd refnr repeated as the live API does across pages) and
``JobDetails`` of ``GET /pc/v4/jobdetails/{base64(refnr)}`` (a refnr without
details answers 404). ``truth`` keeps the BERUFENET id each posting was made
from, for evaluating the classifier; it is not part of the API's shape.

Same arguments give byte-identical JSON: all randomness comes from one
``random.Random(seed)``, and nothing iterates a set or depends on string hashing.

Titles imitate German job boards: the catalogue's male, female or printed
(``Verkäufer/in``) form with gender markers, seniority, working time, place,
shift and "ab sofort" noise; about 5% vague titles (``Helfer (m/w/d)``) and 2%
with a typo. Places are the 16 Länder weighted by population (Destatis,
31.12.2023, rounded) with real cities, PLZ and approximate coordinates; about
1% abroad and 0.5% without a region.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import os
import random
import re
import tempfile
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

SNAPSHOT_FORMAT = "ty-ba-snapshot/1"


class SnapshotError(ValueError):
    """A snapshot file that cannot be read, is no snapshot, or is damaged."""


# ------------------------------------------------------------------- snapshot


@dataclass
class Snapshot:
    """Days of the BA job search API, in its shapes (see the module docstring).

    ``items_for`` hands out the stored item dicts themselves: do not mutate them.
    """

    meta: dict[str, Any]
    postings: dict[str, dict[str, Any]]
    days: dict[str, list[str]]
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    truth: dict[str, str] = field(default_factory=dict)

    @property
    def day_keys(self) -> list[str]:
        """The snapshot's days (ISO dates), ascending."""
        return sorted(self.days)

    def items_for(self, day: str) -> list[dict[str, Any]]:
        """The items the API returns on ``day``, in API order, duplicates kept."""
        try:
            refnrs = self.days[day]
        except KeyError:
            keys = self.day_keys
            span = f"{keys[0]} .. {keys[-1]} ({len(keys)} days)" if keys else "no days at all"
            raise KeyError(f"day {day!r} is not in the snapshot; it covers {span}") from None
        return [self.postings[refnr] for refnr in refnrs]

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "postings": self.postings, "days": self.days,
                "details": self.details, "truth": self.truth}

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON in the dicts' (insertion) order, which ``load`` keeps: equal
        snapshots built the same way give equal bytes, and a loaded snapshot saves unchanged."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()

    def save(self, path: Path) -> None:
        """Write gzip JSON if ``path`` ends with ``.gz``, else plain JSON; atomically (temp file + rename).

        The gzip header carries no name and no time, so the file's bytes depend on the snapshot only.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = self.to_json()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as raw:
                if path.name.endswith(".gz"):
                    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
                        gz.write(payload)
                else:
                    raw.write(payload)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        """Read a snapshot (gzip or plain JSON, told apart by content) and check its shape."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SnapshotError(f"{path}: cannot read the snapshot: {exc}") from exc
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, ValueError) as exc:  # BadGzipFile is an OSError; zlib.error too
                raise SnapshotError(f"{path}: damaged gzip data: {exc}") from exc
        try:
            body = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise SnapshotError(f"{path}: not JSON: {exc}") from exc
        return cls._from_body(body, str(path))

    @classmethod
    def _from_body(cls, body: Any, where: str) -> Snapshot:
        def fail(problem: str) -> SnapshotError:
            return SnapshotError(f"{where}: {problem}")

        if not isinstance(body, dict):
            raise fail(f"expected a JSON object, found {type(body).__name__}")
        meta = body.get("meta")
        if not isinstance(meta, dict):
            raise fail("no 'meta' object: not a snapshot file")
        if meta.get("format") != SNAPSHOT_FORMAT:
            raise fail(f"format {meta.get('format')!r} is not supported (expected {SNAPSHOT_FORMAT!r})")
        postings, days = body.get("postings"), body.get("days")
        details, truth = body.get("details", {}), body.get("truth", {})
        for name, value in (("postings", postings), ("days", days), ("details", details), ("truth", truth)):
            if not isinstance(value, dict):
                raise fail(f"'{name}' must be an object, found {type(value).__name__}")
        for refnr, item in postings.items():
            if not isinstance(item, dict) or item.get("refnr") != refnr:
                raise fail(f"posting {refnr!r} is not an item with that refnr: {str(item)[:120]}")
        for day, refnrs in days.items():
            try:
                date.fromisoformat(day)
            except ValueError:
                raise fail(f"day {day!r} is not an ISO date") from None
            if not isinstance(refnrs, list):
                raise fail(f"day {day}: expected a list of refnrs, found {type(refnrs).__name__}")
            for refnr in refnrs:
                if not isinstance(refnr, str) or refnr not in postings:
                    raise fail(f"day {day} lists {refnr!r}, which is not among the postings")
        for name, value in (("details", details), ("truth", truth)):
            for refnr in value:
                if refnr not in postings:
                    raise fail(f"'{name}' has {refnr!r}, which is not among the postings")
        for refnr, detail in details.items():
            if not isinstance(detail, dict):
                raise fail(f"details of {refnr}: expected an object, found {type(detail).__name__}")
        return cls(meta=meta, postings=postings, days=days, details=details, truth=truth)


# ---------------------------------------------------------------------- places

# Population 31.12.2023 (Destatis, rounded to thousands) and a few real cities:
# (ort, plz, lat, lon). Region names as the BA writes them.
LAENDER_POPULATION: dict[str, int] = {
    "Nordrhein-Westfalen": 18_139_000, "Bayern": 13_369_000, "Baden-Württemberg": 11_280_000,
    "Niedersachsen": 8_140_000, "Hessen": 6_391_000, "Rheinland-Pfalz": 4_159_000, "Sachsen": 4_089_000,
    "Berlin": 3_662_000, "Schleswig-Holstein": 2_953_000, "Brandenburg": 2_573_000,
    "Sachsen-Anhalt": 2_174_000, "Thüringen": 2_115_000, "Hamburg": 1_892_000,
    "Mecklenburg-Vorpommern": 1_628_000, "Saarland": 993_000, "Bremen": 703_000,
}

CITIES: dict[str, list[tuple[str, str, float, float]]] = {
    "Nordrhein-Westfalen": [
        ("Köln", "50667", 50.9375, 6.9603), ("Düsseldorf", "40213", 51.2277, 6.7735),
        ("Dortmund", "44135", 51.5136, 7.4653), ("Essen", "45127", 51.4556, 7.0116),
        ("Duisburg", "47051", 51.4344, 6.7623), ("Bochum", "44787", 51.4818, 7.2162),
        ("Münster", "48143", 51.9607, 7.6261), ("Bielefeld", "33602", 52.0302, 8.5325),
        ("Aachen", "52062", 50.7753, 6.0839), ("Wuppertal", "42103", 51.2562, 7.1508),
    ],
    "Bayern": [
        ("München", "80331", 48.1351, 11.5820), ("Nürnberg", "90402", 49.4521, 11.0767),
        ("Augsburg", "86150", 48.3705, 10.8978), ("Regensburg", "93047", 49.0134, 12.1016),
        ("Würzburg", "97070", 49.7913, 9.9534), ("Ingolstadt", "85049", 48.7665, 11.4258),
        ("Rosenheim", "83022", 47.8561, 12.1289),
    ],
    "Baden-Württemberg": [
        ("Stuttgart", "70173", 48.7758, 9.1829), ("Mannheim", "68159", 49.4875, 8.4660),
        ("Karlsruhe", "76133", 49.0069, 8.4037), ("Freiburg im Breisgau", "79098", 47.9990, 7.8421),
        ("Heidelberg", "69117", 49.3988, 8.6724), ("Ulm", "89073", 48.4011, 9.9876),
        ("Heilbronn", "74072", 49.1427, 9.2109),
    ],
    "Niedersachsen": [
        ("Hannover", "30159", 52.3759, 9.7320), ("Braunschweig", "38100", 52.2689, 10.5268),
        ("Oldenburg", "26122", 53.1435, 8.2146), ("Osnabrück", "49074", 52.2799, 8.0472),
        ("Wolfsburg", "38440", 52.4227, 10.7865), ("Göttingen", "37073", 51.5413, 9.9158),
    ],
    "Hessen": [
        ("Frankfurt am Main", "60311", 50.1109, 8.6821), ("Wiesbaden", "65183", 50.0782, 8.2398),
        ("Kassel", "34117", 51.3127, 9.4797), ("Darmstadt", "64283", 49.8728, 8.6512),
        ("Offenbach am Main", "63065", 50.0956, 8.7761), ("Gießen", "35390", 50.5841, 8.6784),
    ],
    "Rheinland-Pfalz": [
        ("Mainz", "55116", 49.9929, 8.2473), ("Ludwigshafen am Rhein", "67059", 49.4774, 8.4452),
        ("Koblenz", "56068", 50.3569, 7.5890), ("Trier", "54290", 49.7499, 6.6371),
        ("Kaiserslautern", "67655", 49.4401, 7.7491),
    ],
    "Sachsen": [
        ("Leipzig", "04109", 51.3397, 12.3731), ("Dresden", "01067", 51.0504, 13.7373),
        ("Chemnitz", "09111", 50.8278, 12.9214), ("Zwickau", "08056", 50.7189, 12.4961),
        ("Plauen", "08523", 50.4977, 12.1370),
    ],
    "Berlin": [
        ("Berlin", "10115", 52.5323, 13.3846), ("Berlin", "10178", 52.5219, 13.4132),
        ("Berlin", "12099", 52.4681, 13.4005), ("Berlin", "13597", 52.5384, 13.2030),
    ],
    "Schleswig-Holstein": [
        ("Kiel", "24103", 54.3233, 10.1228), ("Lübeck", "23552", 53.8655, 10.6866),
        ("Flensburg", "24937", 54.7937, 9.4470), ("Neumünster", "24534", 54.0714, 9.9900),
        ("Norderstedt", "22846", 53.7064, 10.0097),
    ],
    "Brandenburg": [
        ("Potsdam", "14467", 52.3906, 13.0645), ("Cottbus", "03046", 51.7563, 14.3329),
        ("Frankfurt (Oder)", "15230", 52.3471, 14.5506), ("Brandenburg an der Havel", "14776", 52.4125, 12.5316),
        ("Oranienburg", "16515", 52.7544, 13.2369),
    ],
    "Sachsen-Anhalt": [
        ("Magdeburg", "39104", 52.1205, 11.6276), ("Halle (Saale)", "06108", 51.4828, 11.9700),
        ("Dessau-Roßlau", "06844", 51.8386, 12.2459), ("Lutherstadt Wittenberg", "06886", 51.8666, 12.6484),
        ("Stendal", "39576", 52.6064, 11.8586),
    ],
    "Thüringen": [
        ("Erfurt", "99084", 50.9787, 11.0328), ("Jena", "07743", 50.9271, 11.5892),
        ("Gera", "07545", 50.8806, 12.0833), ("Weimar", "99423", 50.9795, 11.3235),
        ("Gotha", "99867", 50.9489, 10.7018),
    ],
    "Hamburg": [
        ("Hamburg", "20095", 53.5511, 9.9937), ("Hamburg", "22083", 53.5753, 10.0353),
        ("Hamburg", "21073", 53.4608, 9.9832), ("Hamburg", "22525", 53.5833, 9.9167),
    ],
    "Mecklenburg-Vorpommern": [
        ("Rostock", "18055", 54.0924, 12.0991), ("Schwerin", "19053", 53.6355, 11.4012),
        ("Neubrandenburg", "17033", 53.5568, 13.2616), ("Stralsund", "18439", 54.3091, 13.0818),
        ("Greifswald", "17489", 54.0865, 13.3923),
    ],
    "Saarland": [
        ("Saarbrücken", "66111", 49.2402, 6.9969), ("Neunkirchen", "66538", 49.3448, 7.1799),
        ("Homburg", "66424", 49.3268, 7.3386), ("Saarlouis", "66740", 49.3133, 6.7523),
    ],
    "Bremen": [
        ("Bremen", "28195", 53.0793, 8.8017), ("Bremen", "28359", 53.1070, 8.8534),
        ("Bremerhaven", "27568", 53.5396, 8.5809),
    ],
}

# (land, region or "", ort, plz, lat, lon): foreign postal codes as those countries write them.
ABROAD: list[tuple[str, str, str, str, float, float]] = [
    ("Österreich", "Wien", "Wien", "1010", 48.2082, 16.3738),
    ("Österreich", "Salzburg", "Salzburg", "5020", 47.8095, 13.0550),
    ("Österreich", "Tirol", "Innsbruck", "6020", 47.2692, 11.4041),
    ("Schweiz", "Zürich", "Zürich", "8001", 47.3769, 8.5417),
    ("Schweiz", "Basel-Stadt", "Basel", "4051", 47.5596, 7.5886),
    ("Schweiz", "", "St. Gallen", "9000", 47.4245, 9.3767),
    ("Niederlande", "Limburg", "Venlo", "5911", 51.3704, 6.1724),
    ("Niederlande", "", "Enschede", "7511", 52.2215, 6.8937),
]

STREETS = ["Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gewerbestraße", "Am Markt", "Schulstraße",
           "Gartenstraße", "Lindenallee", "Dorfstraße", "Hafenstraße", "Robert-Bosch-Straße", "Im Gewerbepark"]

# ----------------------------------------------------------------- professions

# Common job-board professions, by their catalogue name as printed, roughly most
# common first; those in the catalogue at hand share HEAD_SHARE of all postings
# (Zipf over this order). The rest share the remainder, Zipf over a seeded shuffle.
HEAD_PROFESSIONS: tuple[str, ...] = (
    "Verkäufer/in", "Fachkraft - Lagerlogistik", "Kaufmann/-frau - Büromanagement", "Berufskraftfahrer/in",
    "Pflegefachmann/-frau (Altenpflege)", "Lagerhelfer/in", "Reinigungskraft", "Erzieher/in",
    "Elektroniker/in - Energie- und Gebäudetechnik", "Koch/Köchin", "Medizinische/r Fachangestellte/r",
    "Pflegefachmann/-frau (Gesundheits- und Krankenpflege)", "Altenpflegehelfer/in", "Kommissionierer/in",
    "Industriemechaniker/in", "Anlagenmechaniker/in - Sanitär-, Heizungs- und Klimatechnik", "Softwareentwickler/in",
    "Kaufmann/-frau - Einzelhandel", "Sachbearbeiter/in - Büro", "Buchhalter/in", "Mechatroniker/in",
    "Gesundheits- und Krankenpfleger/in", "Altenpfleger/in", "Staplerfahrer/in",
    "Servicekraft - Gastronomie und Gastgewerbe",
    "Kraftfahrzeugmechatroniker/in - Personenkraftwagentechnik", "Zerspanungsmechaniker/in", "Küchenhilfe",
    "Pflegehelfer/in - Altenpflege", "Fachinformatiker/in - Systemintegration", "Steuerfachangestellte/r",
    "Kassierer/in", "Lagerist/in", "Gebäudereiniger/in", "Elektroniker/in", "Industriekaufmann/-frau",
    "Vertriebsmitarbeiter/in", "Physiotherapeut/in", "Fachkraft - Schutz und Sicherheit", "Heilerziehungspfleger/in",
    "Sozialarbeiter/in", "Zahnmedizinische/r Fachangestellte/r", "Fachinformatiker/in - Anwendungsentwicklung",
    "Kundenberater/in - Vertrieb", "Bürokaufmann/-frau", "Sachbearbeiter/in - Einkauf", "Sachbearbeiter/in - Logistik",
    "Elektroinstallateur/in", "Hausmeister/in", "Montierer/in", "Kellner/in", "Tischler/in", "Maurer/in",
    "Bäcker/in", "Kinderpfleger/in", "Controller/in", "Personalsachbearbeiter/in", "Schweißer/in",
    "Disponent/in - Güterverkehr", "Speditionskaufmann/-frau", "Metallbauer/in - Konstruktionstechnik",
    "Lagerarbeiter/in", "Busfahrer/in", "Kurierfahrer/in", "Zusteller/in - Post", "Briefzusteller/in",
    "Fahrer/in - Personenbeförderung", "Arzt/Ärztin", "Lehrer/in", "Friseur/in", "Dachdecker/in",
    "Anlagenmechaniker/in", "Elektriker/in", "Rechtsanwaltsfachangestellte/r", "Bürohilfskraft",
    "Verwaltungsfachangestellte/r - Kommunalverwaltung", "Hotelfachmann/-frau", "Restaurantfachmann/-frau",
    "Bankkaufmann/-frau", "Immobilienkaufmann/-frau", "Einkäufer/in", "Informatiker/in", "Maschinenbauingenieur/in",
    "IT-Administrator/in", "Servicetechniker/in - IT", "Callcenteragent/in", "Ergotherapeut/in",
    "Notfallsanitäter/in", "Pharmazeutisch-technische/r Assistent/in", "Apotheker/in", "Architekt/in",
    "Vertriebsingenieur/in", "Data Scientist", "Steuerberater/in",
)
HEAD_SHARE = 0.4
LEVEL_FACTOR = {1: 1.2, 2: 2.5, 3: 1.0, 4: 0.8}
_ODD_NAME = re.compile(r"Ausbildung|Auszubildende|Student|Praktikant|Volontär|Anwärter|Referendar|Lehrling")
_DEGREE_PAREN = re.compile(r"\s*\((?:Uni|FH|FS|BA|TH|Hochschule|Bachelor|Master|Diplom)\)")

# Sectors by KldB domain (first two digits) decide employers, vague words and intros.
_SECTOR_BY_DOMAIN = {
    **{d: "industrie" for d in ("21", "22", "23", "24", "25", "26", "27", "28", "29", "41", "42")},
    **{d: "bau" for d in ("31", "32", "33", "34")},
    "43": "it", "51": "logistik", "52": "logistik", "53": "sicherheit", "54": "reinigung",
    "61": "handel", "62": "handel", "63": "gastro", "71": "buero", "72": "buero", "73": "buero",
    "81": "gesundheit", "82": "gesundheit", "83": "soziales", "84": "soziales",
}

_SURNAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun",
    "Krüger", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Köhler",
    "Herrmann", "König", "Walter", "Huber", "Kaiser", "Fuchs", "Peters", "Scholz", "Möller", "Weiß", "Jung",
    "Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Berger", "Winkler", "Roth", "Beck",
    "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster", "Ludwig", "Böhm", "Winter", "Kraus", "Schumacher",
    "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas",
    "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler", "Kuhn", "Pohl", "Engel", "Horn", "Busch",
    "Bergmann", "Voigt", "Sauer", "Arnold", "Pfeiffer", "Brinkmann", "Hansen", "Janssen", "Ahrens", "Thiel",
)
_WORDS = (
    "Alpha", "Nova", "Vita", "Sonnenschein", "Lindenhof", "Rhein", "Elbe", "Weser", "Main", "Nord", "Süd",
    "Alpen", "Taunus", "Harz", "Eifel", "Spree", "Donau", "Bodensee", "Phoenix", "Kompass", "Horizont",
    "Zukunft", "Brücke", "Lebenswert", "Mosaik", "Optima", "Dynamik", "Regio", "Tecno", "Vivo", "Aktiv",
    "Lotus", "Atlas", "Merkur", "Greif", "Falke", "Auenland", "Hanse", "Kristall", "Sternen",
)
_EMPLOYER_TEMPLATES: dict[str, tuple[str, ...]] = {
    "zeitarbeit": ("{W} Personal GmbH", "{S} Personaldienstleistungen GmbH", "{W} Zeitarbeit GmbH",
                   "{W} Personalservice GmbH & Co. KG", "{S} & {S2} Personalmanagement GmbH", "Jobwerk {W} GmbH"),
    "logistik": ("{S} Logistik GmbH", "Spedition {S} GmbH & Co. KG", "{W} Transport GmbH", "{S} Logistics SE",
                 "{W} Kurierdienst GmbH", "Logistikzentrum {C} GmbH"),
    "gesundheit": ("Klinikum {C}", "{W} Pflege gGmbH", "Pflegedienst {S}", "Seniorenzentrum {W} GmbH",
                   "Praxis Dr. med. {S}", "Evangelisches Krankenhaus {C}", "{W} Therapiezentrum {S}"),
    "soziales": ("Caritasverband {C} e.V.", "AWO Kreisverband {C} e.V.", "Diakonie {C} gGmbH",
                 "Kita {W} gGmbH", "Lebenshilfe {C} e.V.", "{W} Jugendhilfe gGmbH"),
    "handel": ("{S} Handels GmbH", "Autohaus {S} GmbH", "Bäckerei {S}", "{W}markt {S} e.K.",
               "{S} Fachmarkt GmbH", "Modehaus {S} GmbH & Co. KG"),
    "it": ("{W} Solutions GmbH", "{W}soft GmbH", "{S} IT-Consulting GmbH", "{W} Digital AG",
           "{S} & {S2} Software GmbH", "{W} Data Systems GmbH"),
    "bau": ("{S} Bau GmbH", "{S} Haustechnik GmbH", "Elektro {S} GmbH", "{S} & {S2} Bauunternehmung GmbH & Co. KG",
            "Dachdeckerei {S}", "{S} Sanitär- und Heizungstechnik GmbH"),
    "industrie": ("{S} Maschinenbau GmbH", "{W} Metallwerke GmbH", "{S} Kunststofftechnik GmbH",
                  "{W} Automotive GmbH", "{S} Präzisionstechnik GmbH & Co. KG", "{W} Lebensmittel GmbH"),
    "gastro": ("Hotel {W}", "Restaurant {W}", "{W} Gastronomie GmbH", "Landgasthof {S}", "Hotel {W} {C}"),
    "buero": ("{S} & Partner Steuerberatungsgesellschaft mbH", "Kanzlei {S} & {S2}", "{W} Versicherung AG",
              "Sparkasse {C}", "Volksbank {C} eG", "Stadt {C}"),
    "sicherheit": ("{W} Sicherheitsdienst GmbH", "{S} Security GmbH", "{W} Objektschutz GmbH"),
    "reinigung": ("{W} Gebäudeservice GmbH", "{S} Gebäudereinigung GmbH", "{W} Facility Services GmbH"),
    "generic": ("{S} GmbH", "{S} & Söhne GmbH", "{S} Gruppe", "Stadtwerke {C}", "Stadt {C}", "{W} AG",
                "{S} GmbH & Co. KG", "{S} Holding GmbH"),
}
_SECTOR_INTRO: dict[str, tuple[str, ...]] = {
    "zeitarbeit": ("ist ein Personaldienstleister mit Niederlassungen in ganz Deutschland.",
                   "vermittelt seit über {n} Jahren Fach- und Hilfskräfte an namhafte Kundenunternehmen."),
    "logistik": ("ist ein mittelständisches Logistikunternehmen mit Sitz in {home}.",
                 "steht seit über {n} Jahren für zuverlässige Transport- und Lagerlösungen."),
    "gesundheit": ("versorgt mit rund {m} Mitarbeitenden Patientinnen, Patienten und Pflegebedürftige "
                   "in {home} und Umgebung.",
                   "ist ein moderner Gesundheitsdienstleister mit Herz &amp; Verstand."),
    "soziales": ("ist ein gemeinnütziger Träger sozialer Einrichtungen in {home}.",
                 "begleitet Kinder, Jugendliche und Familien in ihrem Alltag."),
    "handel": ("ist ein inhabergeführtes Handelsunternehmen mit {k} Filialen in der Region.",
               "begeistert seine Kundinnen und Kunden seit {n} Jahren mit Qualität und Service."),
    "it": ("entwickelt Softwarelösungen für Kunden aus Industrie, Handel und Verwaltung.",
           "ist ein wachsendes IT-Unternehmen mit rund {m} Mitarbeitenden."),
    "bau": ("ist ein regional verwurzelter Handwerks- und Baubetrieb aus {home}.",
            "realisiert seit {n} Jahren anspruchsvolle Bauprojekte für private und öffentliche Auftraggeber."),
    "industrie": ("ist ein international tätiges Industrieunternehmen mit Sitz in {home}.",
                  "fertigt mit rund {m} Mitarbeitenden hochwertige Produkte für Kunden in über {k} Ländern."),
    "gastro": ("ist ein familiengeführtes Haus mit gehobener Küche und {k} Zimmern.",
               "verwöhnt seine Gäste seit {n} Jahren mit regionalen Spezialitäten."),
    "buero": ("ist ein etablierter Dienstleister mit Sitz in {home}.",
              "betreut mit rund {m} Mitarbeitenden Privat- und Firmenkunden."),
    "sicherheit": ("ist ein zertifiziertes Sicherheitsunternehmen (DIN 77200) mit Sitz in {home}.",),
    "reinigung": ("ist ein Dienstleister für Gebäudereinigung &amp; Facility Management in {home}.",),
    "generic": ("ist ein familiengeführtes Unternehmen mit Sitz in {home}.",
                "beschäftigt an {k} Standorten rund {m} Mitarbeiterinnen und Mitarbeiter."),
}
_VAGUE_AREA = {
    "industrie": ("Produktion", "Fertigung", "Montage"), "bau": ("Baustelle", "Montage"), "it": ("IT",),
    "logistik": ("Lager", "Logistik", "Versand"), "sicherheit": ("Sicherheitsdienst", "Empfang"),
    "reinigung": ("Reinigung", "Hauswirtschaft"), "handel": ("Verkauf", "Kasse", "Filiale"),
    "gastro": ("Service", "Küche"), "buero": ("Verwaltung", "Büro", "Kundenservice"),
    "gesundheit": ("Pflege", "Praxis"), "soziales": ("Betreuung",), "generic": ("Produktion", "Verwaltung", "Lager"),
}
VAGUE_HEADS = ("Mitarbeiter", "Helfer", "Aushilfe", "Sachbearbeiter", "Allrounder", "Quereinsteiger",
               "Produktionsmitarbeiter", "Fachkraft", "Teamverstärkung", "Kraft")

GENDER_MARKERS = ("(m/w/d)", "(w/m/d)", "(m/f/d)", "(d/m/w)", "(gn*)", "m/w/d")
_GENDER_WEIGHTS = (70, 10, 5, 4, 4, 7)
_SEPARATORS = (" - ", " | ", ", ", " – ")
_SEP_WEIGHTS = (45, 25, 20, 10)
_WORKTIME = ("Vollzeit", "Teilzeit", "Minijob", "in Voll- oder Teilzeit", "Vollzeit / Teilzeit", "(Teilzeit)")
_WORKTIME_WEIGHTS = (35, 20, 8, 20, 10, 7)
_SHIFTS = ("Schichtdienst", "Nachtschicht", "3-Schicht", "im 3-Schicht-System", "Wechselschicht")
_EXTRAS = ("ab sofort", "unbefristet", "Quereinsteiger willkommen", "gerne auch Quereinsteiger", "befristet",
           "zum nächstmöglichen Zeitpunkt")
_SHIFT_SECTORS = ("industrie", "logistik", "gesundheit", "sicherheit")

_OFFERS = (
    "unbefristeter Arbeitsvertrag", "leistungsgerechte Vergütung nach Tarif", "30 Tage Urlaub",
    "Urlaubs- &amp; Weihnachtsgeld", "betriebliche Altersvorsorge", "Fort- und Weiterbildungsmöglichkeiten",
    "JobRad &amp; Zuschuss zum Deutschlandticket", "ein motiviertes Team und flache Hierarchien",
    "moderne Arbeitsplätze und Ausstattung", "flexible Arbeitszeiten", "Mitarbeiterrabatte",
    "betriebliches Gesundheitsmanagement", "eine strukturierte Einarbeitung",
)
_PROFILE_BY_LEVEL = {
    1: ("keine abgeschlossene Berufsausbildung erforderlich",
        "erste Erfahrung in einem ähnlichen Bereich wünschenswert", "körperliche Belastbarkeit"),
    2: ("abgeschlossene Berufsausbildung als {name} oder vergleichbare Qualifikation", "Berufserfahrung von Vorteil",
        "selbstständige und sorgfältige Arbeitsweise"),
    3: ("Weiterbildung zum Meister, Techniker oder Fachwirt bzw. Bachelorabschluss",
        "mehrjährige Berufserfahrung als {name}", "Organisationstalent und Verantwortungsbewusstsein"),
    4: ("abgeschlossenes Hochschulstudium (Master/Diplom) in einer einschlägigen Fachrichtung",
        "fundierte Fachkenntnisse und analytisches Denkvermögen", "sehr gute Deutsch- und Englischkenntnisse"),
}
_PROFILE_COMMON = ("Zuverlässigkeit, Teamfähigkeit &amp; Engagement", "gute Deutschkenntnisse in Wort und Schrift",
                   "Führerschein Klasse B wünschenswert", "Freude am Umgang mit Menschen")


# ------------------------------------------------------------------- helpers


def _zipf_cum(n: int, s: float, q: float = 0.0) -> list[float]:
    return list(accumulate(1.0 / (rank + 1 + q) ** s for rank in range(n)))


def _pick(rng: random.Random, items: list[Any] | tuple[Any, ...], cum: list[float]) -> Any:
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
