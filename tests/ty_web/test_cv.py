"""CV import library: recognition by content, extraction, anonymisation and draft parsing (no web, no database)."""

from __future__ import annotations

import io
import re
import time
import zipfile
from datetime import date
from functools import cache

import docx
import pytest
from fpdf import FPDF

from ty_testing.cvs import FORMATS, SAMPLE_CVS, SampleCv, find_unicode_font, sample
from ty_web.cv import CvResult, CvTooLarge, CvUnreadable, CvUnsupported, parse_cv, process_cv, sniff
from ty_web.cv.anonymise import anonymise, iban_is_valid
from ty_web.cv.extract import extract
from ty_web.cv.parse import parse_date

MAX = 5 * 1024 * 1024
FIELDS = {"Pflege", "Logistik", "IT", "Handwerk", "Büro", "Gastronomie", "Ingenieurwesen", "Einzelhandel"}


@cache
def rendered(key: str, fmt: str, unicode_font: bool = True) -> bytes:
    return sample(key).render(fmt, unicode_font=unicode_font)


@cache
def processed(key: str, fmt: str, unicode_font: bool = True) -> CvResult:
    return process_cv(rendered(key, fmt, unicode_font), MAX)


def fold(text: str) -> list[str]:
    """A value and its spellings without umlauts (Kühn, Kuehn, Kuhn; Yılmaz, Yilmaz)."""
    ascii_e = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss").replace("ı", "i")
    plain = text.replace("ä", "a").replace("ö", "o").replace("ü", "u").replace("ß", "ss").replace("ı", "i")
    return list(dict.fromkeys([text, ascii_e, plain]))


def leaks(cv: SampleCv, text: str) -> list[str]:
    """Every planted personal value still found in the text (case-insensitive, spacing variants too)."""
    found: list[str] = []
    lower = text.lower()
    squeezed = re.sub(r"\s+", "", text).upper()
    line_digits = [re.sub(r"\D", "", line) for line in text.split("\n")]
    for kind, values in cv.planted().items():
        for value in values:
            if kind == "name":
                for variant in fold(value):
                    # a first name that is also a month ("Jan") may stay in front of a year: "Jan 2020"
                    pattern = rf"(?<!\w){re.escape(variant)}(?!\w)(?!\.?\s*(?:19|20)\d\d)"
                    if re.search(pattern, text, re.IGNORECASE):
                        found.append(f"name:{variant}")
            elif kind == "phone":
                digits = re.sub(r"\D", "", value)
                if value.startswith("+"):
                    digits = digits[2:]
                digits = digits.lstrip("0")
                if any(digits in d for d in line_digits) or value.lower() in lower:
                    found.append(f"phone:{value}")
            elif kind == "iban":
                if re.sub(r"\s+", "", value).upper() in squeezed or value.lower() in lower:
                    found.append(f"iban:{value}")
            elif kind == "postcode":
                if re.search(rf"(?<!\d){value}(?!\d)", text):
                    found.append(f"postcode:{value}")
            else:
                for variant in fold(value):
                    if variant.lower() in lower or re.sub(r"\s+", "", variant).lower() in lower.replace(" ", ""):
                        found.append(f"{kind}:{variant}")
    return found


# ------------------------------------------------------------------ the sample CVs


def test_the_samples_cover_the_fields_and_layouts():
    assert len(SAMPLE_CVS) >= 8
    assert FIELDS <= {cv.field for cv in SAMPLE_CVS}
    assert len({cv.layout for cv in SAMPLE_CVS}) >= 5 and len({cv.date_style for cv in SAMPLE_CVS}) >= 4
    for cv in SAMPLE_CVS:
        planted = cv.planted()
        assert all(planted[k] for k in ("name", "email", "phone", "address", "postcode", "birth_date"))
    assert sum("iban" in cv.planted() for cv in SAMPLE_CVS) >= 2
    assert sum(bool(cv.planted()["url"]) for cv in SAMPLE_CVS) >= 5


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", [cv.key for cv in SAMPLE_CVS])
def test_sample_cv_is_extracted_anonymised_and_parsed(key, fmt):
    cv = sample(key)
    raw = rendered(key, fmt)
    assert sniff(raw) == fmt
    original = extract(raw, MAX).text
    # the rendered CV carries every kind of planted data, or the checks below would prove nothing
    assert {found.split(":")[0] for found in leaks(cv, original)} == {k for k, v in cv.planted().items() if v}
    result = processed(key, fmt)
    assert result.kind == fmt
    assert leaks(cv, result.anonymised_text) == []
    dumped = result.draft.model_dump_json()
    assert leaks(cv, dumped) == []
    for kind in ("name", "email", "phone", "address", "birth_date"):
        assert result.removed.get(kind, 0) >= 1, kind
    # what matters for matching survives
    for job in cv.jobs:
        assert job.title in result.anonymised_text
        assert job.employer in result.anonymised_text
    for school in cv.schools:
        assert school.degree in result.anonymised_text
    # the draft: work history exactly as written, education and skills
    got = [(w.title, w.employer, w.start_date, w.end_date) for w in result.draft.work_history]
    assert got == cv.expected_jobs()
    assert [w.current for w in result.draft.work_history] == [j.end is None for j in cv.jobs]
    assert [e.degree for e in result.draft.education] == [s.degree for s in cv.schools]
    assert [e.institution for e in result.draft.education] == [s.institution for s in cv.schools]
    assert set(cv.skills) <= set(result.draft.skills)
    assert set(cv.languages) <= set(result.draft.skills)
    assert all(w.description for w, j in zip(result.draft.work_history, cv.jobs, strict=True) if j.bullets)


@pytest.mark.parametrize("key", ["pflege", "einzelhandel", "handwerk"])
def test_pdf_with_the_core_font_fallback(key):
    """Without a TTF on the system the generator falls back to Helvetica: umlauts still survive."""
    cv = sample(key)
    raw = rendered(key, "pdf", False)
    assert "ü" in extract(raw, MAX).text or "ä" in extract(raw, MAX).text
    result = processed(key, "pdf", False)
    assert leaks(cv, result.anonymised_text) == []
    assert [(w.title, w.employer, w.start_date, w.end_date) for w in result.draft.work_history] == \
        cv.expected_jobs()


def test_generator_finds_a_unicode_font_or_says_so():
    font = find_unicode_font()
    assert font is None or font[0].name == "DejaVuSans.ttf"


def test_draft_is_json_for_the_database():
    draft = processed("it", "docx").draft.model_dump(mode="json")
    assert set(draft) == {"work_history", "education", "skills"}
    first = draft["work_history"][0]
    assert first["start_date"] == "2020-01-01" and first["end_date"] is None and first["current"] is True
    assert first["title"] == "Senior Backend-Entwickler" and first["period"] == "Jan 2020 – heute"


def test_known_account_data_is_removed_too():
    text = ("Lebenslauf\n\nBERUFSERFAHRUNG\n03/2019 – heute\tLagerist, Spedition Nord GmbH\n"
            "Ansprechpartner für Kunden: Mehmet Aydin, erreichbar unter m.aydin@example.org\n")
    result = process_cv(text.encode(), MAX, known_names=["Mehmet Aydın"], known_emails=["m.aydin@example.org"])
    assert "Mehmet" not in result.anonymised_text and "Aydin" not in result.anonymised_text
    assert "example.org" not in result.anonymised_text
    assert "Spedition Nord GmbH" in result.anonymised_text


# ------------------------------------------------------------------ the anonymiser, item by item


@pytest.mark.parametrize("phone", [
    "+49 30 1234567", "+49 (0)171 2345678", "0049 171 2345678", "0171/2345678", "0171-2345678", "(030) 123 456-78",
    "030 12345678", "0170 123 45 67", "0561 / 98 76 54", "+43 1 5321234", "01512 3456789", "089.1234.5678",
    "0151 - 234 567 89", "+1 (415) 555-0100",
])
def test_phone_numbers_are_removed(phone):
    out = anonymise(f"Kontakt\nMobil: {phone}\nAuch privat {phone} erreichbar.").text
    assert re.sub(r"\D", "", phone)[-6:] not in re.sub(r"\D", "", out)
    assert out.count("[TELEFON]") == 2


@pytest.mark.parametrize("text", [
    "01/2015 - 12/2019 Lagerist", "01.2015 bis 12.2019", "2018 - 2020", "03/2019 – 08/2021", "seit 03/2021",
    "ca. 10.000 Mitarbeiter", "Umsatz 1.250.000 EUR", "Projekt 2019/2020", "Version 3.10.2", "ISO 9001:2015",
])
def test_dates_and_numbers_of_the_job_are_kept(text):
    assert anonymise(text).text == text


@pytest.mark.parametrize(("text", "kept"), [
    ("geb. 14.02.1990", "geb. "), ("Geburtsdatum: 7. Juli 1982", "Geburtsdatum: "),
    ("geboren am 05.11.1979 in Köln", "geboren am "), ("* 23.11.1991", "* "), ("Geb.-Datum: 1995-12-11", ""),
    ("Date of birth: 03/06/1997", ""), ("geb. am 3.7.90", "geb. am "),
])
def test_birth_dates_are_removed(text, kept):
    out = anonymise(text).text
    assert "[GEBURTSDATUM]" in out and out.startswith(kept)
    assert not re.search(r"\d", out)
    assert "Köln" not in out


@pytest.mark.parametrize("iban", ["DE89 3704 0044 0532 0130 00", "DE89370400440532013000",
                                  "AT61 1904 3002 3457 3201", "de89 3704 0044 0532 0130 00"])
def test_ibans_are_removed(iban):
    out = anonymise(f"Bankverbindung\nIBAN {iban}\nBIC COBADEFFXXX").text
    assert "[IBAN]" in out and "3704" not in out and "1904" not in out


def test_iban_checksum():
    assert iban_is_valid("DE89 3704 0044 0532 0130 00") and iban_is_valid("DE02120300000000202051")
    assert not iban_is_valid("DE89 3704 0044 0532 0130 01") and not iban_is_valid("XX00")


@pytest.mark.parametrize(("text", "gone"), [
    ("Hauptstraße 12a, 10115 Berlin", ["Hauptstraße", "12a", "10115"]),
    ("Karl-Marx-Allee 90\n10243 Berlin", ["Karl-Marx-Allee", "10243"]),
    ("Am Lindenhof 3, 01099 Dresden", ["Lindenhof", "01099"]),
    ("Venloer Str. 312 · 50823 Köln", ["Venloer", "312", "50823"]),
    ("Berliner Straße 5-7, D-60311 Frankfurt am Main", ["Berliner Straße", "60311"]),
    ("Anschrift: Unter den Linden 7, Berlin", ["Linden"]),
    ("Eppendorfer Weg 112a", ["Eppendorfer", "112a"]),
])
def test_addresses_and_postcodes_are_removed(text, gone):
    out = anonymise(text).text
    assert all(g not in out for g in gone), out
    assert "Berlin" in out or "Dresden" in out or "Köln" in out or "Frankfurt" in out or "[ADRESSE]" in out


def test_postcodes_need_a_city_and_counts_are_not_cities():
    assert anonymise("Betreuung von 12000 Kunden im Jahr").text == "Betreuung von 12000 Kunden im Jahr"
    assert anonymise("Im Monitoring 24 Stunden am Tag").text == "Im Monitoring 24 Stunden am Tag"


@pytest.mark.parametrize(("text", "gone"), [
    ("https://www.linkedin.com/in/max-muster-123", "max-muster"),
    ("linkedin.com/in/max-muster", "max-muster"), ("xing.com/profile/Max_Muster", "Max_Muster"),
    ("github.com/mmuster", "mmuster"), ("www.max-muster.de", "max-muster"), ("Portfolio: max-muster.de", "muster"),
    ("Instagram: max.muster", "max.muster"), ("Twitter @maxmuster", "@maxmuster"),
    ("Mastodon: @mm@chaos.social", "@mm"), ("max.muster@example.com", "max.muster"),
    ("max.muster (at) example (dot) com", "max.muster"), ("max [at] muster.de", "muster"),
])
def test_urls_handles_and_emails_are_removed(text, gone):
    out = anonymise(text).text
    assert gone.lower() not in out.lower(), out


def test_technology_names_are_not_urls():
    text = "Kenntnisse: ASP.NET, Node.js, Vue.js, C#, .NET 8, Socket.IO"
    assert anonymise(text).text == text


def test_name_from_the_header_is_removed_everywhere_in_every_spelling():
    text = ("Jürgen Müller\nStaplerfahrer\n\nBERUFSERFAHRUNG\n05/2014 – 02/2019\tStaplerfahrer, Rhenus SE\n"
            "Herr Müller ist zuverlässig. Jürgens Kollegen schätzen ihn. J. Mueller, JÜRGEN MÜLLER, Muller\n"
            "Müller, Jürgen\nJuergen Mueller")
    out = anonymise(text).text
    for variant in ("Jürgen", "Müller", "Mueller", "Muller", "MÜLLER", "JÜRGEN", "Juergen"):
        assert variant.lower() not in out.lower(), (variant, out)
    assert "Staplerfahrer, Rhenus SE" in out and "05/2014 – 02/2019" in out


@pytest.mark.parametrize("header", [
    "Name: Anna Schmidt", "Name\tAnna Schmidt", "Lebenslauf von Anna Schmidt", "LEBENSLAUF\nANNA SCHMIDT",
    "Lebenslauf – Anna Schmidt", "Dipl.-Ing. Anna Schmidt", "Anna Schmidt | Pflegefachkraft",
    "Curriculum Vitae\n\nAnna Schmidt", "Vorname: Anna\nNachname: Schmidt", "Schmidt, Anna",
])
def test_name_is_found_in_the_usual_header_forms(header):
    text = f"{header}\nPflegefachkraft\n\nBerufserfahrung\n2018 – heute Pflegefachkraft, Klinikum Nord\nAnna Schmidt"
    out = anonymise(text).text
    assert "anna" not in out.lower() and "schmidt" not in out.lower(), out
    assert "Pflegefachkraft, Klinikum Nord" in out


def test_headings_and_job_titles_are_not_taken_for_a_name():
    text = ("Examinierte Pflegefachkraft\nPersönliche Daten\nSenior Software Engineer\n\nBerufserfahrung\n"
            "2018 – heute Pflegefachkraft, Klinikum Nord")
    assert anonymise(text).text == text


def test_surname_that_is_an_occupation_stays_where_it_is_the_occupation():
    text = ("Stefan Koch\nKoch (m/w/d)\n\nBerufserfahrung\n03/2016 – 05/2020\tKoch, Restaurant Tantris\n"
            "Ausbildung als Koch. Herr Koch leitete die Küche.\nMünchen, 20.02.2024\nS. Koch")
    out = anonymise(text).text
    assert "Stefan" not in out and "Herr Koch" not in out and "S. Koch" not in out
    assert "Koch (m/w/d)" in out and "Koch, Restaurant Tantris" in out and "als Koch" in out


def test_first_name_that_is_a_month_leaves_dates_alone():
    text = "Jan Hoffmann\n\nBerufserfahrung\nJan 2020 – heute\tEntwickler, SAP SE\nJan ist Entwickler."
    out = anonymise(text).text
    assert "Jan 2020 – heute" in out and "Jan ist" not in out and "Hoffmann" not in out


def test_labelled_personal_details_are_removed():
    text = ("Familienstand: ledig\nStaatsangehörigkeit: türkisch\nReligion: evangelisch\nKinder: 2\n"
            "Geburtsort: Izmir\nSteuer-ID: 12 345 678 901\nFührerschein: Klasse B")
    out = anonymise(text).text
    for gone in ("ledig", "türkisch", "evangelisch", "Izmir", "345"):
        assert gone not in out
    assert "Führerschein: Klasse B" in out


def test_other_people_named_with_a_title_are_removed():
    text = ("Referenzen\nHerr Dr. Klaus Meier, Stationsleitung\nFrau Schulz (Pflegedienstleitung)\n"
            "Herrn Becker Filialleitung\nHrn. nicht")
    out = anonymise(text).text
    assert "Meier" not in out and "Klaus" not in out and "Schulz" not in out and "Becker" not in out
    assert out == ("Referenzen\nHerr Dr. [NAME], Stationsleitung\nFrau [NAME] (Pflegedienstleitung)\n"
                   "Herrn [NAME] Filialleitung\nHrn. nicht")


def test_employers_with_common_words_survive():
    text = ("Berufserfahrung\n2015 – 2019\tVerkäuferin, Müller Handels GmbH & Co. KG\n"
            "2019 – heute\tFilialleiterin, dm-drogerie markt GmbH + Co. KG, Karlsruhe")
    assert anonymise(text).text == text


def test_anonymiser_is_linear_on_hostile_text():
    hostile = ("0" * 5000 + " ") * 10 + "1 2 3 4 5 6 7 8 9 " * 3000 + "a@" * 5000 + "Straße " * 3000
    hostile += ("DE" + "1" * 30 + " ") * 500 + ("Anna " * 2000) + "\n" * 1000 + ("x" * 150 + "\t") * 200
    started = time.monotonic()
    anonymise(hostile)
    parse_cv(hostile)
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------ the parser


@pytest.mark.parametrize(("line", "start", "end", "current"), [
    ("03/2019 – 08/2021 Pflegefachkraft", date(2019, 3, 1), date(2021, 8, 1), False),
    ("seit 03/2021 Pflegefachkraft", date(2021, 3, 1), None, True),
    ("2018 - heute Pflegefachkraft", date(2018, 1, 1), None, True),
    ("01.2015 bis 12.2019 Pflegefachkraft", date(2015, 1, 1), date(2019, 12, 1), False),
    ("März 2019 – Mai 2020 Pflegefachkraft", date(2019, 3, 1), date(2020, 5, 1), False),
    ("01.03.2019 - 31.12.2020 Pflegefachkraft", date(2019, 3, 1), date(2020, 12, 31), False),
    ("2015 – 2017 Pflegefachkraft", date(2015, 1, 1), date(2017, 12, 1), False),
    ("Pflegefachkraft (von 04/2010 bis 06/2012)", date(2010, 4, 1), date(2012, 6, 1), False),
    ("Sept. 2013 – bis dato Pflegefachkraft", date(2013, 9, 1), None, True),
])
def test_date_ranges(line, start, end, current):
    draft = parse_cv(f"Berufserfahrung\n{line}\nKlinikum Nord, Hamburg\n• Pflege")
    assert len(draft.work_history) == 1
    entry = draft.work_history[0]
    assert (entry.start_date, entry.end_date, entry.current) == (start, end, current)
    assert entry.title == "Pflegefachkraft" and entry.employer == "Klinikum Nord" and entry.location == "Hamburg"
    assert entry.description == "Pflege"


def test_parse_date_rejects_impossible_dates():
    assert parse_date("13/2019") is None and parse_date("31.02.2019") is None and parse_date("Foo 2019") is None
    assert parse_date("2019", end=True) == date(2019, 12, 1) and parse_date("Dez. 2019") == date(2019, 12, 1)


def test_skills_sections_and_labelled_lists():
    draft = parse_cv("Kenntnisse\nEDV: SAP, MS Office; DATEV\n• Englisch (C1, verhandlungssicher)\n"
                     "Führerschein: B, C1E\n\nSprachen\nDeutsch | Türkisch\n")
    assert draft.skills == ["SAP", "MS Office", "DATEV", "Englisch (C1, verhandlungssicher)", "Führerschein B",
                            "Führerschein C1E", "Deutsch", "Türkisch"]


def test_reversed_employer_and_title_order():
    draft = parse_cv("Berufserfahrung\n04/2017 – heute\tRobert Bosch GmbH | Entwicklungsingenieurin\n")
    assert (draft.work_history[0].title, draft.work_history[0].employer) == ("Entwicklungsingenieurin",
                                                                            "Robert Bosch GmbH")


def test_no_dates_no_entries():
    draft = parse_cv("Ich bin ein Lebenslauf ohne Daten.\nKenntnisse: Python, SQL")
    assert draft.work_history == [] and draft.education == [] and draft.skills == ["Python", "SQL"]


# ------------------------------------------------------------------ hostile and wrong uploads


def _docx_bytes(text: str = "Berufserfahrung\n2018 – heute Pflegefachkraft, Klinikum Nord") -> bytes:
    document = docx.Document()
    for line in text.split("\n"):
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _rezip(data: bytes, change) -> bytes:
    """A copy of a ZIP with its members passed through change(name, bytes) -> [(name, bytes)]."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            for name, content in change(info.filename, src.read(info)):
                dst.writestr(name, content)
    return out.getvalue()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00>\x00" + b"\x00" * 100
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 100 + b"This program cannot be run"


@pytest.mark.parametrize("data", [
    PNG, PNG + b"%PDF-1.7", ELF, PE, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500,
    b"Lebenslauf Anna\x00Schmidt Pflegefachkraft", b"{\\rtf1\\ansi Lebenslauf Anna Schmidt}",
    b"#!/bin/sh\nrm -rf /\n", bytes(range(256)) * 4, b"GIF89a" + b"\x01" * 200,
], ids=["png", "png-then-pdf-magic", "elf", "pe", "ole-doc", "text-with-nul", "rtf", "script", "binary", "gif"])
def test_disguised_uploads_are_unsupported(data):
    with pytest.raises(CvUnsupported) as caught:
        process_cv(data, MAX)
    assert caught.value.status == 415 and caught.value.message


def test_zip_that_is_not_a_docx_is_unsupported():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("lebenslauf.txt", "Anna Schmidt, Pflegefachkraft " * 10)
    with pytest.raises(CvUnsupported):
        process_cv(out.getvalue(), MAX)
    with pytest.raises(CvUnsupported):
        sniff(out.getvalue())
    # an OpenDocument text is a ZIP too
    odt = io.BytesIO()
    with zipfile.ZipFile(odt, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(CvUnsupported):
        process_cv(odt.getvalue(), MAX)


def test_docx_with_macros_is_unsupported():
    def to_docm(name, content):
        if name == "[Content_Types].xml":
            content = content.replace(b"wordprocessingml.document.main+xml", b"IGNORED").replace(
                b"application/vnd.openxmlformats-officedocument.IGNORED",
                b"application/vnd.ms-word.document.macroEnabled.main+xml")
        yield name, content
        if name == "word/document.xml":
            yield "word/vbaProject.bin", b"\xd0\xcf\x11\xe0 macro"

    with pytest.raises(CvUnsupported, match="macros"):
        process_cv(_rezip(_docx_bytes(), to_docm), MAX)


def test_docx_with_only_a_vba_part_is_unsupported():
    def add_vba(name, content):
        yield name, content
        if name == "word/document.xml":
            yield "word/vbaProject.bin", b"macro"

    with pytest.raises(CvUnsupported, match="macros"):
        process_cv(_rezip(_docx_bytes(), add_vba), MAX)


def test_docx_with_a_doctype_is_unsupported():
    def add_doctype(name, content):
        if name == "word/document.xml":
            content = content.replace(b"?>", b"?><!DOCTYPE x [<!ENTITY a 'aaaa'>]>", 1)
        yield name, content

    with pytest.raises(CvUnsupported, match="DOCTYPE"):
        process_cv(_rezip(_docx_bytes(), add_doctype), MAX)


def test_docx_with_encrypted_members_is_unsupported():
    data = bytearray(_docx_bytes())
    # set the "encrypted" flag of every member in the local headers and the central directory
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (pos := data.find(signature, start)) != -1:
            data[pos + offset] |= 0x1
            start = pos + 4
    with pytest.raises(CvUnsupported, match="encrypted"):
        process_cv(bytes(data), MAX)


def test_zip_bomb_docx_is_rejected():
    def add_bomb(name, content):
        yield name, content
        if name == "word/document.xml":
            yield "word/media/image1.png", b"\x00" * (60 * 1024 * 1024)

    bomb = _rezip(_docx_bytes(), add_bomb)
    assert len(bomb) < 200 * 1024  # small on the wire
    started = time.monotonic()
    with pytest.raises(CvTooLarge) as caught:
        process_cv(bomb, MAX)
    assert caught.value.status == 413
    assert time.monotonic() - started < 2  # refused from the headers, not after unpacking


def test_moderately_compressed_parts_over_the_ratio_are_rejected():
    def add_part(name, content):
        yield name, content
        if name == "word/document.xml":
            yield "word/media/fill.bin", b"A" * (3 * 1024 * 1024)

    with pytest.raises(CvTooLarge, match="zip bomb"):
        process_cv(_rezip(_docx_bytes(), add_part), MAX)


def test_docx_whose_headers_lie_about_a_size_is_unreadable():
    data = bytearray(_docx_bytes())
    name = b"word/document.xml"
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = int.from_bytes(data[central + 28: central + 30], "little")
        if data[central + 46: central + 46 + name_len] == name:
            data[central + 24: central + 28] = (10).to_bytes(4, "little")  # uncompressed size: 10 bytes
            break
        central = data.find(b"PK\x01\x02", central + 4)
    assert central != -1
    with pytest.raises(CvUnreadable):
        process_cv(bytes(data), MAX)


def test_damaged_docx_and_pdf_are_unreadable():
    with pytest.raises(CvUnreadable) as caught:
        process_cv(_docx_bytes()[:600], MAX)
    assert caught.value.status == 422
    with pytest.raises(CvUnreadable):
        process_cv(b"%PDF-1.7\n" + b"garbage " * 200, MAX)
    pdf = rendered("pflege", "pdf")
    with pytest.raises(CvUnreadable):
        process_cv(pdf[: len(pdf) // 3], MAX)


def test_oversized_upload_is_rejected_before_parsing():
    data = rendered("pflege", "text")
    with pytest.raises(CvTooLarge) as caught:
        process_cv(data, len(data) - 1)
    assert caught.value.status == 413
    assert process_cv(data, len(data)).kind == "text"
    with pytest.raises(CvTooLarge):
        process_cv(b"%PDF-" + b"\x00" * MAX, MAX)


def test_too_many_pages_and_too_much_text_are_rejected():
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for n in range(31):
        pdf.add_page()
        pdf.cell(0, 10, f"Seite {n}: Berufserfahrung als Pflegefachkraft")
    with pytest.raises(CvTooLarge, match="pages"):
        process_cv(bytes(pdf.output()), MAX)
    with pytest.raises(CvTooLarge, match="characters"):
        process_cv(("Pflegefachkraft im Klinikum Nord. " * 7000).encode(), MAX)


def test_password_protected_pdf_is_unreadable_but_owner_only_protection_is_fine():
    def pdf(**passwords) -> bytes:
        doc = FPDF()
        doc.set_encryption(**passwords)
        doc.add_page()
        doc.set_font("helvetica", size=12)
        doc.cell(0, 10, "Berufserfahrung als Pflegefachkraft im Klinikum Nord")
        return bytes(doc.output())

    with pytest.raises(CvUnreadable, match="password"):
        process_cv(pdf(owner_password="o", user_password="u"), MAX)
    assert "Pflegefachkraft" in process_cv(pdf(owner_password="o"), MAX).anonymised_text


def test_pdf_without_text_and_empty_files_are_unreadable():
    doc = FPDF()
    doc.add_page()
    doc.rect(10, 10, 50, 50, style="F")
    with pytest.raises(CvUnreadable, match="no text"):
        process_cv(bytes(doc.output()), MAX)
    for empty in (b"", b"   \n\t "):
        with pytest.raises(CvUnreadable):
            process_cv(empty, MAX)


def test_text_encodings():
    text = "Jürgen Müller\nBerufserfahrung\n2018 – heute Staplerfahrer, Rhenus Logistics SE & Co. KG\n"
    for encoded in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("cp1252"),
                    text.encode("utf-16")):
        result = process_cv(encoded, MAX)
        assert result.kind == "text"
        assert "Müller" not in result.anonymised_text and "Rhenus Logistics SE & Co. KG" in result.anonymised_text
        assert result.draft.work_history[0].title == "Staplerfahrer"


def test_docx_tables_text_boxes_headers_and_lists_are_read():
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Anna Schmidt"
    table = document.add_table(rows=2, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Telefon", "0171 2345678"
    merged = table.rows[1].cells[0].merge(table.rows[1].cells[1])
    merged.text = "Berufserfahrung"
    document.add_paragraph("2018 – heute Pflegefachkraft, Klinikum Nord")
    document.add_paragraph("Patientenversorgung", style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    text = extract(out.getvalue(), MAX).text
    assert text.split("\n")[:2] == ["Anna Schmidt", "Telefon\t0171 2345678"]
    assert text.count("Berufserfahrung") == 1  # a merged cell is read once
    assert "• Patientenversorgung" in text
    result = process_cv(out.getvalue(), MAX)
    assert "Anna" not in result.anonymised_text and "2345678" not in result.anonymised_text
    assert result.draft.work_history[0].description == "Patientenversorgung"


def test_docx_content_controls_and_text_boxes_are_read():
    def add_controls(name, content):
        if name == "word/document.xml":
            extra = (
                '<w:sdt><w:sdtContent><w:p><w:r><w:t>Name: Anna Schmidt</w:t></w:r></w:p></w:sdtContent></w:sdt>'
                '<w:p><w:r><w:t xml:space="preserve">Telefon: </w:t></w:r><w:sdt><w:sdtContent><w:r>'
                '<w:t>0171 2345678</w:t></w:r></w:sdtContent></w:sdt></w:p>'
                '<w:p><w:r><w:pict><w:txbxContent><w:p><w:r><w:t>anna.schmidt@example.org</w:t></w:r></w:p>'
                '</w:txbxContent></w:pict></w:r></w:p>'
                '<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="2000"/></w:tabs></w:pPr>'
                '<w:r><w:t>Seit</w:t></w:r><w:r><w:tab/><w:t>2020</w:t></w:r><w:del><w:r><w:delText>geheim</w:delText>'
                '</w:r></w:del></w:p>'
            )
            content = content.replace(b"<w:body>", b"<w:body>" + extra.encode(), 1)
        yield name, content

    data = _rezip(_docx_bytes(), add_controls)
    lines = extract(data, MAX).text.split("\n")
    # the text box's paragraph is empty in the flow and read after the body
    assert lines == ["Name: Anna Schmidt", "Telefon: 0171 2345678", "", "Seit\t2020", "Berufserfahrung",
                     "2018 – heute Pflegefachkraft, Klinikum Nord", "anna.schmidt@example.org"]
    assert not any("geheim" in line for line in lines)
    out = process_cv(data, MAX).anonymised_text
    assert "Anna" not in out and "2345678" not in out and "example.org" not in out


def test_kind_comes_from_the_content_not_a_name():
    assert sniff(rendered("it", "pdf")) == "pdf"
    assert sniff(rendered("it", "docx")) == "docx"
    assert sniff(rendered("it", "text")) == "text"
