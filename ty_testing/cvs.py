"""Realistic German CVs for tests, each rendered as PDF (fpdf2), DOCX (python-docx) and plain text.

Nine people in different occupations (Pflege, Logistik, IT, Handwerk, Büro, Gastronomie, Ingenieurwesen,
Einzelhandel, Kita) and layouts: dates first or titles first, one line per job or several, a table-based
DOCX, labelled or unlabelled headers, a name in capitals or in the DOCX page header, a CV without any
section headings. Each CV knows the personal data planted in it (:meth:`SampleCv.planted`), including
recurrences of the name in the body, and the work history a parser should find
(:meth:`SampleCv.expected_jobs`).

PDFs use DejaVu Sans when the system has it (umlauts, dashes, bullets); otherwise fpdf2's core Helvetica,
which still carries umlauts (Latin-1) but not dashes or bullets, so those are transliterated.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

Format = Literal["pdf", "docx", "text"]
FORMATS: tuple[Format, ...] = ("pdf", "docx", "text")
DateStyle = Literal["slash", "dot", "month_short", "month_long", "year", "full"]
Layout = Literal["classic", "inline", "title_first", "table", "pipe", "plain"]

MONTHS_LONG = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
               "November", "Dezember")
MONTHS_SHORT = ("Jan", "Feb", "März", "Apr", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez.")

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF",
             "/usr/share/fonts/truetype", "/usr/local/share/fonts", "/Library/Fonts", "/opt/homebrew/share/fonts",
             "C:/Windows/Fonts")


@dataclass(frozen=True)
class Job:
    title: str
    employer: str
    location: str
    start: date
    end: date | None  # None: current
    bullets: tuple[str, ...] = ()


@dataclass(frozen=True)
class School:
    degree: str
    institution: str
    start: date | None  # None: a single date (the end)
    end: date


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    email: str
    phone: str  # as written in the CV
    street: str  # street and number
    postcode: str
    city: str
    birth: date
    birth_text: str  # the birth line as written, e.g. "geb. 14.02.1990 in Lübeck"
    iban: str | None = None
    urls: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    profiles: tuple[tuple[str, str], ...] = ()  # ("Instagram", "fatma.style"): written "Instagram: fatma.style"
    extra: tuple[str, ...] = ()  # other planted personal text (place of birth, "Staatsangehörigkeit: deutsch")

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class SampleCv:
    key: str
    field: str  # the occupational field
    person: Person
    headline: str
    summary: str  # may use {first}, {last}, {name}
    jobs: tuple[Job, ...]
    schools: tuple[School, ...]
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    layout: Layout
    date_style: DateStyle
    separator: str = " – "  # between start and end
    current: Literal["heute", "seit", "bis heute"] = "heute"
    header: Literal["plain", "labelled", "caps", "lebenslauf_von", "docx_header"] = "plain"
    closing: str = ""  # signature block, may use {first}, {last}, {name}, {initial}
    personal_lines: tuple[str, ...] = ()  # extra lines under "Persönliche Daten"
    headings: bool = True

    # ---------------------------------------------------------------- what tests check

    def planted(self) -> dict[str, list[str]]:
        """Every planted personal value by kind; none may survive anonymisation."""
        p = self.person
        out: dict[str, list[str]] = {
            "name": [p.name, p.first, p.last, *_name_parts(p.first), *_name_parts(p.last)],
            "email": [p.email],
            "phone": [p.phone],
            "address": [p.street],
            "postcode": [p.postcode],
            "birth_date": [f"{p.birth:%d.%m.%Y}", f"{p.birth.day}.{p.birth.month}.{p.birth.year}",
                           f"{p.birth.day}. {MONTHS_LONG[p.birth.month - 1]} {p.birth.year}",
                           f"{p.birth:%Y-%m-%d}"],
            "url": [*p.urls, *p.handles, *(value for _label, value in p.profiles)],
            "personal": list(p.extra),
        }
        if p.iban:
            out["iban"] = [p.iban]
        return {k: list(dict.fromkeys(v)) for k, v in out.items()}

    def expected_jobs(self) -> list[tuple[str, str, date, date | None]]:
        """(title, employer, start, end) as a parser should read them from this CV's date style."""
        return [(j.title, j.employer, _expected(j.start, self.date_style, end=False),
                 None if j.end is None else _expected(j.end, self.date_style, end=True)) for j in self.jobs]

    # ---------------------------------------------------------------- rendering

    def render(self, fmt: Format, *, unicode_font: bool = True) -> bytes:
        items = self._items()
        if fmt == "text":
            return _render_text(items).encode("utf-8")
        if fmt == "docx":
            return _render_docx(items, self)
        return _render_pdf(items, unicode_font=unicode_font)

    def _fmt(self, d: date, *, end: bool = False) -> str:
        style = self.date_style
        if style == "slash":
            return f"{d.month:02d}/{d.year}"
        if style == "dot":
            return f"{d.month:02d}.{d.year}"
        if style == "month_short":
            return f"{MONTHS_SHORT[d.month - 1]} {d.year}"
        if style == "month_long":
            return f"{MONTHS_LONG[d.month - 1]} {d.year}"
        if style == "year":
            return str(d.year)
        return f"{d:%d.%m.%Y}"

    def _period(self, start: date, end: date | None) -> str:
        if end is None:
            if self.current == "seit":
                return f"seit {self._fmt(start)}"
            return f"{self._fmt(start)}{self.separator}{self.current}"
        return f"{self._fmt(start)}{self.separator}{self._fmt(end, end=True)}"

    def _school_period(self, s: School) -> str:
        return self._fmt(s.end) if s.start is None else self._period(s.start, s.end)

    def _text(self, template: str) -> str:
        p = self.person
        return template.format(first=p.first, last=p.last, name=p.name, initial=p.first[0])

    def _items(self) -> list[tuple]:
        p = self.person
        items: list[tuple] = []
        contact = [f"{p.street}, {p.postcode} {p.city}", f"Telefon: {p.phone}", f"E-Mail: {p.email}",
                   *p.urls, *p.handles, *(f"{label}: {value}" for label, value in p.profiles)]
        if self.header == "labelled":
            items += [("title", "Lebenslauf"), ("heading", "Persönliche Daten"), ("kv", "Name", p.name),
                      ("kv", "Anschrift", f"{p.street}, {p.postcode} {p.city}"), ("kv", "Telefon", p.phone),
                      ("kv", "E-Mail", p.email), ("line", p.birth_text)]
            if p.iban:
                items += [("kv", "IBAN", p.iban)]
            items += [("line", u) for u in (*p.urls, *p.handles)]
            items += [("kv", label, value) for label, value in p.profiles]
            items += [("line", x) for x in self.personal_lines]
        else:
            if self.header == "caps":
                items += [("line", "LEBENSLAUF"), ("title", p.name.upper())]
            elif self.header == "lebenslauf_von":
                items += [("title", f"Lebenslauf von {p.name}")]
            elif self.header == "docx_header":
                items += [("page_header", p.name)]
            else:
                items += [("title", p.name)]
            items += [("line", self.headline)]
            items += [("line", x) for x in contact]
            items += [("line", p.birth_text)]
            if p.iban:
                items += [("line", f"Bank: Sparkasse, {p.iban}")]
            items += [("line", x) for x in self.personal_lines]
        if self.summary:
            if self.headings:
                items.append(("heading", "Kurzprofil"))
            items.append(("para", self._text(self.summary)))
        if self.headings:
            items.append(("heading", "Berufserfahrung"))
        for job in self.jobs:
            items += self._job_items(job)
        if self.headings:
            items.append(("heading", "Ausbildung"))
        for school in self.schools:
            period = self._school_period(school)
            if self.layout == "table":
                items.append(("entry", period, [school.degree, school.institution], ()))
            elif self.layout in {"inline", "plain"}:
                items.append(("line", f"{period}{'   ' if self.layout == 'inline' else ': '}{school.degree}, "
                                      f"{school.institution}"))
            elif self.layout == "title_first":
                items += [("strong", school.degree), ("line", f"{school.institution} | {period}")]
            elif self.layout == "pipe":
                items.append(("line", f"{school.degree} | {school.institution} | {period}"))
            else:
                items += [("line", period), ("strong", school.degree), ("line", school.institution)]
        if self.headings:
            items.append(("heading", "Kenntnisse"))
            items.append(("para", ", ".join(self.skills)))
            items.append(("heading", "Sprachen"))
            items += [("bullet", lang) for lang in self.languages]
        else:
            items.append(("line", "Kenntnisse: " + ", ".join(self.skills)))
            items.append(("line", "Sprachen: " + ", ".join(self.languages)))
        if self.closing:
            items.append(("blank",))
            items += [("line", x) for x in self._text(self.closing).split("\n")]
        return items

    def _job_items(self, job: Job) -> list[tuple]:
        period = self._period(job.start, job.end)
        where = f"{job.employer}, {job.location}"
        bullets = [("bullet", b) for b in job.bullets]
        if self.layout == "table":
            return [("entry", period, [job.title, where], job.bullets)]
        if self.layout == "inline":
            return [("line", f"{period}   {job.title}, {where}"), *bullets]
        if self.layout == "plain":
            return [("line", f"{period}: {job.title}, {where}"), *bullets]
        if self.layout == "title_first":
            return [("strong", job.title), ("line", f"{where} | {period}"), *bullets]
        if self.layout == "pipe":
            return [("strong", f"{job.title} | {job.employer} | {period}"), ("line", job.location), *bullets]
        return [("line", period), ("strong", job.title), ("line", where), *bullets]


def _name_parts(name: str) -> list[str]:
    particles = {"von", "van", "der", "den", "del", "zu", "zum", "zur", "vom", "ten", "ter"}
    return [p for p in re.split(r"[\s-]+", name) if len(p) >= 3 and p.lower() not in particles]


def _expected(d: date, style: DateStyle, *, end: bool) -> date:
    if style == "full":
        return d
    if style == "year":
        return date(d.year, 12 if end else 1, 1)
    return date(d.year, d.month, 1)


# ------------------------------------------------------------------ renderers


def _render_text(items: list[tuple]) -> str:
    lines: list[str] = []
    for item in items:
        kind = item[0]
        if kind in {"title", "line", "strong", "para", "page_header"}:
            lines.append(item[1])
        elif kind == "heading":
            lines += ["", item[1].upper(), ""]
        elif kind == "kv":
            lines.append(f"{item[1]}: {item[2]}")
        elif kind == "bullet":
            lines.append(f"• {item[1]}")
        elif kind == "entry":
            _, left, right, bullets = item
            lines.append(f"{left}\t{right[0]}")
            lines += [f"\t{r}" for r in right[1:]]
            lines += [f"\t• {b}" for b in bullets]
        elif kind == "blank":
            lines.append("")
    return "\n".join(lines) + "\n"


def _render_docx(items: list[tuple], cv: SampleCv) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.author = ""  # no name in the metadata (it is not extracted anyway)
    kv_table = None
    entry_table = None
    for item in items:
        kind = item[0]
        if kind != "kv":
            kv_table = None
        if kind != "entry":
            entry_table = None
        if kind == "page_header":
            header = document.sections[0].header
            header.paragraphs[0].text = item[1]
        elif kind == "title":
            document.add_heading(item[1], level=0)
        elif kind == "heading":
            document.add_heading(item[1], level=1)
        elif kind in {"line", "para"}:
            document.add_paragraph(item[1])
        elif kind == "strong":
            document.add_paragraph().add_run(item[1]).bold = True
        elif kind == "bullet":
            document.add_paragraph(item[1], style="List Bullet")
        elif kind == "blank":
            document.add_paragraph("")
        elif kind == "kv":
            if kv_table is None:
                kv_table = document.add_table(rows=0, cols=2)
            row = kv_table.add_row().cells
            row[0].text, row[1].text = item[1], item[2]
        elif kind == "entry":
            _, left, right, bullets = item
            if entry_table is None:
                entry_table = document.add_table(rows=0, cols=2)
            row = entry_table.add_row().cells
            row[0].text = left
            row[1].paragraphs[0].add_run(right[0]).bold = True
            for r in right[1:]:
                row[1].add_paragraph(r)
            for b in bullets:
                row[1].add_paragraph(b, style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def find_unicode_font() -> tuple[Path, Path | None] | None:
    """DejaVu Sans (regular, bold) on this system, or None."""
    for d in FONT_DIRS:
        regular = Path(d) / "DejaVuSans.ttf"
        if regular.is_file():
            bold = Path(d) / "DejaVuSans-Bold.ttf"
            return regular, bold if bold.is_file() else None
    return None


_LATIN1 = str.maketrans({"–": "-", "—": "-", "•": "-", "·": "|", "„": '"', "“": '"', "”": '"', "’": "'",
                         "‘": "'", "ı": "i", "ł": "l", "Ł": "L", "ş": "s", "Ş": "S", "ğ": "g", "ć": "c", "ś": "s",
                         "ń": "n", "ż": "z", "ź": "z", "€": "EUR"})


def _render_pdf(items: list[tuple], *, unicode_font: bool) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    font = find_unicode_font() if unicode_font else None
    if font:
        pdf.add_font("CV", "", str(font[0]))
        pdf.add_font("CV", "B", str(font[1] or font[0]))
        family = "CV"

        def t(s: str) -> str:
            return s
    else:
        family = "helvetica"

        def t(s: str) -> str:
            return s.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(text: str, size: float = 10.5, style: str = "", gap: float = 5.2) -> None:
        pdf.set_font(family, style, size)
        pdf.multi_cell(width, gap, t(text), new_x="LMARGIN", new_y="NEXT")

    for item in items:
        kind = item[0]
        if kind == "page_header":
            line(item[1], 9, "B")
        elif kind == "title":
            line(item[1], 18, "B", 9)
        elif kind == "heading":
            pdf.ln(3)
            line(item[1], 13, "B", 7)
        elif kind in {"line", "para"}:
            line(item[1])
        elif kind == "strong":
            line(item[1], style="B")
        elif kind == "bullet":
            line(f"• {item[1]}")
        elif kind == "blank":
            pdf.ln(4)
        elif kind == "kv":
            pdf.set_font(family, "", 10.5)
            pdf.cell(35, 5.2, t(f"{item[1]}:"))
            pdf.multi_cell(width - 35, 5.2, t(item[2]), new_x="LMARGIN", new_y="NEXT")
        elif kind == "entry":
            _, left, right, bullets = item
            pdf.set_font(family, "", 10.5)
            pdf.cell(42, 5.2, t(left))
            pdf.set_font(family, "B", 10.5)
            pdf.multi_cell(width - 42, 5.2, t(right[0]), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, "", 10.5)
            for r in [*right[1:], *(f"• {b}" for b in bullets)]:
                pdf.set_x(pdf.l_margin + 42)
                pdf.multi_cell(width - 42, 5.2, t(r), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
    return bytes(pdf.output())


# ------------------------------------------------------------------ the CVs

SAMPLE_CVS: tuple[SampleCv, ...] = (
    SampleCv(
        key="pflege", field="Pflege", layout="classic", date_style="slash",
        person=Person(
            first="Anna-Lena", last="Schmidt-Weber", email="annalena.schmidt-weber@web.de", phone="0171/2345678",
            street="Eppendorfer Weg 112a", postcode="20259", city="Hamburg", birth=date(1990, 2, 14),
            birth_text="geb. 14.02.1990 in Lübeck", iban="DE89 3704 0044 0532 0130 00",
            urls=("linkedin.com/in/anna-lena-schmidt-weber",)),
        headline="Pflegefachkraft (Intensivpflege)",
        summary=("Examinierte Pflegefachkraft mit acht Jahren Erfahrung auf Intensivstationen. Kolleginnen "
                 "beschreiben Frau Schmidt-Weber als ruhig und belastbar; {first} übernimmt gern die "
                 "Praxisanleitung."),
        jobs=(
            Job("Pflegefachkraft", "Universitätsklinikum Hamburg-Eppendorf", "Hamburg", date(2018, 10, 1), None,
                ("Versorgung beatmeter Patientinnen und Patienten auf der Intensivstation",
                 "Praxisanleitung von Auszubildenden", "Wundmanagement und Dokumentation")),
            Job("Gesundheits- und Krankenpflegerin", "Asklepios Klinik Nord", "Hamburg", date(2015, 10, 1),
                date(2018, 9, 1), ("Pflege auf der kardiologischen Station", "Mitarbeit im Qualitätszirkel")),
            Job("Pflegehelferin", "Pflegedienst Sonnenschein GmbH", "Lübeck", date(2011, 8, 1), date(2012, 9, 1),
                ("Grundpflege in der ambulanten Versorgung",)),
        ),
        schools=(
            School("Ausbildung zur Gesundheits- und Krankenpflegerin", "Berufsfachschule für Pflege am UKE",
                   date(2012, 10, 1), date(2015, 9, 1)),
            School("Allgemeine Hochschulreife", "Thomas-Mann-Gymnasium Lübeck", None, date(2011, 6, 1)),
        ),
        skills=("Intensivpflege", "Wundmanagement", "Praxisanleitung", "SAP ISH", "Beatmungspflege"),
        languages=("Deutsch (Muttersprache)", "Englisch (B2)"),
        closing="Hamburg, 01.03.2024\n{name}",
    ),
    SampleCv(
        key="logistik", field="Logistik", layout="inline", date_style="dot", separator=" - ",
        person=Person(
            first="Dariusz", last="Nowak", email="d.nowak1982@gmx.de", phone="+49 151 23456789",
            street="Lindenstraße 7", postcode="44137", city="Dortmund", birth=date(1982, 7, 7),
            birth_text="Geburtsdatum: 07. Juli 1982"),
        headline="Fachkraft für Lagerlogistik",
        summary="Zuverlässige Fachkraft mit Staplerschein und langjähriger Erfahrung in Wareneingang und Versand.",
        jobs=(
            Job("Fachkraft für Lagerlogistik", "DHL Supply Chain GmbH", "Unna", date(2019, 3, 1), None,
                ("Wareneingangskontrolle und Einlagerung mit SAP EWM", "Einweisung neuer Kollegen")),
            Job("Staplerfahrer", "Rhenus Logistics SE & Co. KG", "Dortmund", date(2014, 5, 1), date(2019, 2, 1),
                ("Be- und Entladen von Lkw", "Inventur")),
            Job("Kommissionierer", "Amazon Logistik Dortmund GmbH", "Dortmund", date(2011, 9, 1),
                date(2014, 4, 1), ()),
        ),
        schools=(
            School("Ausbildung zum Fachlageristen", "IHK zu Dortmund", date(2009, 8, 1), date(2011, 7, 1)),
            School("Hauptschulabschluss", "Hauptschule Dortmund-Eving", None, date(1999, 6, 1)),
        ),
        skills=("Staplerschein", "SAP EWM", "Scannertechnik", "Ladungssicherung", "Führerschein Klasse C1E"),
        languages=("Deutsch (fließend)", "Polnisch (Muttersprache)"),
        closing="Dortmund, im Februar 2024\nD. Nowak",
    ),
    SampleCv(
        key="it", field="IT", layout="title_first", date_style="month_short",
        person=Person(
            first="Jan-Niklas", last="Hoffmann", email="kontakt@jn-hoffmann.de", phone="+49 (0)30 12345678",
            street="Karl-Marx-Allee 90", postcode="10243", city="Berlin", birth=date(1991, 11, 23),
            birth_text="* 23.11.1991", urls=("https://github.com/jnhoffmann", "jn-hoffmann.de"),
            handles=("@jnhoffmann",)),
        headline="Senior Backend-Entwickler",
        summary=("Backend-Entwickler mit Schwerpunkt verteilte Systeme. Auf GitHub zeigt {first} {last} "
                 "Open-Source-Beiträge zu Python- und Go-Projekten."),
        jobs=(
            Job("Senior Backend-Entwickler", "Zalando SE", "Berlin", date(2020, 1, 1), None,
                ("Entwurf und Betrieb von Microservices in Go und Python",
                 "Einführung von Kubernetes-Deployments mit Argo CD")),
            Job("Softwareentwickler", "SAP SE", "Walldorf", date(2016, 8, 1), date(2019, 12, 1),
                ("Entwicklung von REST-APIs für SAP Cloud Platform",)),
            Job("Werkstudent Softwareentwicklung", "Fraunhofer FOKUS", "Berlin", date(2014, 10, 1),
                date(2016, 7, 1), ("Prototypen für Smart-City-Plattformen",)),
        ),
        schools=(
            School("Bachelor of Science Informatik", "Technische Universität Berlin", date(2011, 10, 1),
                   date(2016, 3, 1)),
        ),
        skills=("Python", "Go", "PostgreSQL", "Kubernetes", "AWS", "Kafka", "Terraform"),
        languages=("Deutsch (Muttersprache)", "Englisch (C1)"),
    ),
    SampleCv(
        key="handwerk", field="Handwerk", layout="table", date_style="year", header="docx_header",
        person=Person(
            first="Thomas", last="Kühn", email="thomas.kuehn@t-online.de", phone="(0351) 456 789-12",
            street="Am Lindenhof 3", postcode="01099", city="Dresden", birth=date(1988, 5, 5),
            birth_text="geboren am 5. Mai 1988 in Meißen", extra=("Meißen",)),
        headline="Elektroniker für Energie- und Gebäudetechnik",
        summary="Elektronikermeister mit Erfahrung in Neubau, Sanierung und Gebäudeautomation (KNX).",
        jobs=(
            Job("Elektroniker für Energie- und Gebäudetechnik", "Elektro Schubert GmbH", "Dresden",
                date(2018, 1, 1), None, ("Installation von KNX-Systemen", "Leitung eines Teams von drei Monteuren")),
            Job("Elektroniker", "Stadtwerke Pirna GmbH", "Pirna", date(2012, 1, 1), date(2017, 1, 1),
                ("Wartung von Umspannstationen", "Bereitschaftsdienst")),
        ),
        schools=(
            School("Meisterprüfung im Elektrotechniker-Handwerk", "Handwerkskammer Dresden", date(2019, 1, 1),
                   date(2020, 1, 1)),
            School("Ausbildung zum Elektroniker", "Handwerkskammer Dresden", date(2009, 1, 1), date(2012, 1, 1)),
        ),
        skills=("KNX", "Photovoltaik", "E-Check", "Schaltschrankbau", "Führerschein Klasse B"),
        languages=("Deutsch (Muttersprache)", "Englisch (Grundkenntnisse)"),
        closing="Dresden, 12.02.2024\nT. Kuehn",
    ),
    SampleCv(
        key="buero", field="Büro", layout="pipe", date_style="dot", separator=" bis ", current="heute",
        person=Person(
            first="Sabine", last="Wagner", email="sabine.wagner@posteo.de", phone="0561 / 98 76 54",
            street="Wilhelmshöher Allee 250", postcode="34119", city="Kassel", birth=date(1979, 9, 30),
            birth_text="Geburtsdatum: 30.09.1979", urls=("https://www.xing.com/profile/Sabine_Wagner",),
            extra=("verheiratet, zwei Kinder", "Staatsangehörigkeit: deutsch")),
        headline="Sachbearbeiterin Personal",
        summary="Erfahrene Sachbearbeiterin mit Schwerpunkt Personalverwaltung und Entgeltabrechnung.",
        jobs=(
            Job("Sachbearbeiterin Personal", "Stadtverwaltung Kassel", "Kassel", date(2017, 4, 1), None,
                ("Personalaktenführung und Zeitwirtschaft", "Vorbereitung der Entgeltabrechnung mit SAP HCM")),
            Job("Kauffrau für Büromanagement", "Wintershall Dea GmbH", "Kassel", date(2015, 1, 1),
                date(2017, 3, 1), ("Terminkoordination und Reisekostenabrechnung",)),
            Job("Bürokauffrau", "Autohaus Ludwig GmbH & Co. KG", "Baunatal", date(2011, 9, 1), date(2014, 12, 1),
                ("Rechnungsprüfung", "Telefonzentrale")),
        ),
        schools=(
            School("Ausbildung zur Bürokauffrau", "Berufsschule Kassel", date(1996, 8, 1), date(1999, 7, 1)),
        ),
        skills=("SAP HCM", "MS Office", "DATEV", "Zeitwirtschaft", "Entgeltabrechnung"),
        languages=("Deutsch (Muttersprache)", "Englisch (B1)"),
        personal_lines=("Familienstand: verheiratet, zwei Kinder", "Staatsangehörigkeit: deutsch"),
        closing="Kassel, 05.01.2024\nS. Wagner",
    ),
    SampleCv(
        key="gastro", field="Gastronomie", layout="classic", date_style="slash", current="seit",
        header="labelled",
        person=Person(
            first="Giuseppe", last="Russo", email="g.russo@gmail.com", phone="0176-12345678",
            street="Sonnenstraße 15", postcode="80331", city="München", birth=date(1993, 4, 2),
            birth_text="Geburtsdatum: 02.04.1993", handles=("@giuseppe.cucina",),
            extra=("Neapel", "Staatsangehörigkeit: italienisch")),
        headline="Sous-Chef",
        summary="Koch mit Leidenschaft für die italienische Küche; {first} legt Wert auf regionale Produkte.",
        jobs=(
            Job("Sous-Chef", "Hotel Bayerischer Hof", "München", date(2020, 6, 1), None,
                ("Leitung der Küche in Abwesenheit des Küchenchefs", "Menüplanung und Wareneinsatz")),
            Job("Koch", "Restaurant Tantris", "München", date(2016, 3, 1), date(2020, 5, 1),
                ("Posten Saucier und Entremetier",)),
            Job("Commis de Cuisine", "Trattoria da Enzo", "Napoli", date(2013, 9, 1), date(2016, 2, 1), ()),
        ),
        schools=(
            School("Diploma di Tecnico dei servizi di ristorazione", "Istituto Alberghiero Napoli",
                   date(2008, 9, 1), date(2013, 6, 1)),
        ),
        skills=("Italienische Küche", "HACCP", "Menüplanung", "Warenwirtschaft", "Pasta fresca"),
        languages=("Italienisch (Muttersprache)", "Deutsch (B2)", "Englisch (B1)"),
        personal_lines=("Geburtsort: Neapel", "Staatsangehörigkeit: italienisch"),
        closing="München, 20.02.2024\nGiuseppe Russo",
    ),
    SampleCv(
        key="ingenieur", field="Ingenieurwesen", layout="inline", date_style="slash", header="caps",
        person=Person(
            first="Katharina", last="von der Heide", email="k.vonderheide@outlook.de", phone="+49 711 1234 5678",
            street="Königstraße 28", postcode="70173", city="Stuttgart", birth=date(1984, 8, 18),
            birth_text="geb. am 18.08.1984", iban="DE02 1203 0000 0000 2020 51",
            urls=("https://de.linkedin.com/in/katharina-von-der-heide",)),
        headline="Entwicklungsingenieurin Antriebstechnik",
        summary=("Promovierte Maschinenbauingenieurin. Dr. von der Heide verantwortet die Validierung "
                 "elektrischer Antriebe."),
        jobs=(
            Job("Entwicklungsingenieurin Antriebstechnik", "Robert Bosch GmbH", "Stuttgart", date(2017, 4, 1), None,
                ("Auslegung und Validierung elektrischer Achsantriebe", "Fachliche Führung von vier Ingenieuren")),
            Job("Versuchsingenieurin", "Mercedes-Benz AG", "Sindelfingen", date(2013, 10, 1), date(2017, 3, 1),
                ("Prüfstandsversuche an Getrieben",)),
            Job("Wissenschaftliche Mitarbeiterin", "Universität Stuttgart", "Stuttgart", date(2010, 1, 1),
                date(2013, 9, 1), ("Promotion am Institut für Maschinenelemente",)),
        ),
        schools=(
            School("Promotion (Dr.-Ing.) Maschinenbau", "Universität Stuttgart", date(2010, 1, 1), date(2013, 9, 1)),
            School("Diplom Maschinenbau", "Universität Stuttgart", date(2004, 10, 1), date(2009, 12, 1)),
        ),
        skills=("MATLAB/Simulink", "CATIA V5", "FMEA", "Prüfstandstechnik", "Projektmanagement"),
        languages=("Deutsch (Muttersprache)", "Englisch (C1)", "Französisch (B1)"),
        closing="Stuttgart, im März 2024\nKatharina von der Heide",
    ),
    SampleCv(
        key="einzelhandel", field="Einzelhandel", layout="title_first", date_style="month_long",
        header="lebenslauf_von",
        person=Person(
            first="Fatma", last="Yılmaz", email="fatma.yilmaz95@gmail.com", phone="0221 9876543",
            street="Venloer Str. 312", postcode="50823", city="Köln", birth=date(1995, 12, 11),
            birth_text="Geb.-Datum: 11.12.1995", profiles=(("Instagram", "fatma.style"),)),
        headline="Filialleiterin im Drogeriefachhandel",
        summary="Filialleiterin mit Freude am Verkauf und an der Führung junger Teams.",
        jobs=(
            Job("Filialleiterin", "dm-drogerie markt GmbH + Co. KG", "Köln", date(2019, 3, 1), None,
                ("Personalverantwortung für zwölf Mitarbeitende", "Umsatzplanung und Warendisposition")),
            Job("Stellvertretende Filialleiterin", "Rossmann GmbH", "Köln", date(2016, 8, 1), date(2019, 2, 1),
                ("Kassenabrechnung", "Ausbildung von Azubis")),
            Job("Verkäuferin", "H&M Hennes & Mauritz B.V. & Co. KG", "Bonn", date(2013, 9, 1), date(2016, 7, 1),
                ()),
        ),
        schools=(
            School("Ausbildung zur Kauffrau im Einzelhandel", "Berufskolleg Ehrenfeld", date(2011, 8, 1),
                   date(2013, 7, 1)),
        ),
        skills=("Warenwirtschaft", "Kassensysteme", "Personalplanung", "Visual Merchandising"),
        languages=("Deutsch (Muttersprache)", "Türkisch (Muttersprache)", "Englisch (B1)"),
        closing="Köln, 15.01.2024\nFatma Yılmaz",
    ),
    SampleCv(
        key="kita", field="Erziehung", layout="plain", date_style="slash", separator=" - ", headings=False,
        person=Person(
            first="Lena", last="Brückner", email="lena.brueckner@web.de", phone="0761 55 44 33",
            street="Rosenweg 4", postcode="79098", city="Freiburg im Breisgau", birth=date(1997, 6, 3),
            birth_text="geboren am 03.06.1997 in Freiburg im Breisgau"),
        headline="Staatlich anerkannte Erzieherin",
        summary="",
        jobs=(
            Job("Erzieherin", "Kita Regenbogen", "Freiburg", date(2019, 8, 1), None,
                ("Gruppenleitung im U3-Bereich", "Elterngespräche und Entwicklungsdokumentation")),
            Job("Kinderpflegerin", "Evangelischer Kindergarten St. Georgen", "Freiburg", date(2016, 9, 1),
                date(2019, 7, 1), ()),
        ),
        schools=(
            School("Ausbildung zur Erzieherin", "Fachschule für Sozialpädagogik Freiburg", date(2016, 9, 1),
                   date(2019, 7, 1)),
        ),
        skills=("Situationsansatz", "Sprachförderung", "Erste Hilfe am Kind"),
        languages=("Deutsch", "Französisch (B1)"),
        closing="Freiburg, 10.01.2024\nLena Brückner",
    ),
)


def sample(key: str) -> SampleCv:
    for cv in SAMPLE_CVS:
        if cv.key == key:
            return cv
    raise KeyError(key)
