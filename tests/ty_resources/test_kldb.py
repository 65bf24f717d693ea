"""The KldB 2010 reader and the gender-form expansion, on the bundled real file."""

from __future__ import annotations

from collections import Counter

import pytest

from ty_resources.kldb import (
    BUNDLED_KLDB_PATH,
    CatalogueFileError,
    clean_text,
    expand_gender_forms,
    parse_kldb,
    read_kldb,
)


@pytest.fixture(scope="module")
def catalogue():
    return read_kldb()


def test_counts_per_level(catalogue):
    assert Counter(c.level for c in catalogue.codes) == {1: 10, 2: 37, 3: 144, 4: 703, 5: 1301}
    assert len(catalogue.professions) == 18_838
    assert len({p.berufenet_id for p in catalogue.professions}) == 18_838


def test_keys_are_zero_padded_to_their_level(catalogue):
    codes = {c.code: c for c in catalogue.codes}
    assert "01104" in codes and codes["01104"].level == 5  # '1104' in the file
    assert "01" in codes and codes["01"].level == 2  # '1' in the file
    assert all(len(c.code) == c.level for c in catalogue.codes)
    assert codes["01104"].parent_code == "0110"
    assert codes["0"].parent_code is None


def test_every_profession_belongs_to_a_level5_code(catalogue):
    level5 = {c.code for c in catalogue.codes if c.level == 5}
    assert all(p.kldb_code in level5 for p in catalogue.professions)
    assert all(p.berufenet_id.startswith(p.kldb_code) for p in catalogue.professions)


def test_profession_attributes_from_the_code(catalogue):
    by_id = {p.berufenet_id: p for p in catalogue.professions}
    software = by_id["43414-102"]
    assert software.name == "Softwareentwickler/in"
    assert (software.level, software.is_supervisor, software.domain_code) == (4, False, "43")
    supervisors = [p for p in catalogue.professions if p.kldb_code[3] == "9"]
    assert supervisors and all(p.is_supervisor for p in supervisors)
    assert {p.level for p in catalogue.professions} == {1, 2, 3, 4}
    assert len({p.domain_code for p in catalogue.professions}) == 37


def test_descriptions_have_entities_decoded(catalogue):
    texts = [c.description for c in catalogue.codes] + [c.remarks for c in catalogue.codes]
    assert not any("&nbsp;" in t or "&amp;" in t or "\xa0" in t for t in texts)
    offiziere = next(c for c in catalogue.codes if c.code == "01104")
    assert "z. B. Heer, Luftwaffe" in offiziere.description
    assert len(offiziere.description.splitlines()) > 3  # list items on their own lines


def test_clean_text():
    assert clean_text("a&nbsp;b   c &amp; d") == "a b\nc & d"


def test_exclusions_are_hard_negatives(catalogue):
    exclusions = {(e.excluded_from_code, e.title, e.belongs_to_code) for e in catalogue.exclusions}
    assert ("01203", "Fachunteroffizier - Sanitätsdienst", "01302") in exclusions
    assert any(e.title == "Förster/in (Hochschule)" and e.belongs_to_code == "11714" for e in catalogue.exclusions)
    assert len(catalogue.exclusions) > 4000
    assert all(e.belongs_to_code.isdigit() for e in catalogue.exclusions)


# Real titles from the file, with the readings a posting may use.
GENDER_FORMS = [
    ("Softwareentwickler/in", "Softwareentwickler", "Softwareentwicklerin"),
    ("Verkäufer/in", "Verkäufer", "Verkäuferin"),
    ("Helfer/in - Kokerei", "Helfer - Kokerei", "Helferin - Kokerei"),
    ("Kaufmann/-frau - Büromanagement", "Kaufmann - Büromanagement", "Kauffrau - Büromanagement"),
    ("Pflegefachmann/-frau", "Pflegefachmann", "Pflegefachfrau"),
    ("Fachmann/-frau - Multimedia", "Fachmann - Multimedia", "Fachfrau - Multimedia"),
    ("Kaufmännische/r Angestellte/r", "Kaufmännischer Angestellter", "Kaufmännische Angestellte"),
    ("Tiermedizinische/r Praxisassistent/in", "Tiermedizinischer Praxisassistent", "Tiermedizinische Praxisassistentin"),
    ("Internationale/r Management-Assistent/in", "Internationaler Management-Assistent", "Internationale Management-Assistentin"),
    ("Inkassobeauftragte/r", "Inkassobeauftragter", "Inkassobeauftragte"),
    ("Gehilf(e/in) - Steuerberatung", "Gehilfe - Steuerberatung", "Gehilfin - Steuerberatung"),
    ("Beamt(er/in) - Bergverwaltung (höh. bergtechn. Dienst)", "Beamter - Bergverwaltung (höh. bergtechn. Dienst)", "Beamtin - Bergverwaltung (höh. bergtechn. Dienst)"),
    ("Koch/Köchin", "Koch", "Köchin"),
    ("Arzt/Ärztin", "Arzt", "Ärztin"),
    ("Zahnarzt/-ärztin", "Zahnarzt", "Zahnärztin"),
    ("Facharzt/-ärztin - Sprachstörungen", "Facharzt - Sprachstörungen", "Fachärztin - Sprachstörungen"),
    ("Ackerbauer/-bäuerin", "Ackerbauer", "Ackerbäuerin"),
    ("Winzergehilfe/-gehilfin", "Winzergehilfe", "Winzergehilfin"),
    ("Pflanzentechnologe/-technologin", "Pflanzentechnologe", "Pflanzentechnologin"),
    ("Aus- und Weiterbildungspädagoge/-pädagogin", "Aus- und Weiterbildungspädagoge", "Aus- und Weiterbildungspädagogin"),
    ("Ökotrophologe/Ökotrophologin (Uni) - Bildungswesen/Schulung", "Ökotrophologe (Uni) - Bildungswesen/Schulung", "Ökotrophologin (Uni) - Bildungswesen/Schulung"),
    ("EDV-Pädagoge/Pädagogin", "EDV-Pädagoge", "EDV-Pädagogin"),
    ("Synergetik-Therapeut/Synergetik-Therapeutin", "Synergetik-Therapeut", "Synergetik-Therapeutin"),
    ("Kinderkrankenpflegehelfer/-in", "Kinderkrankenpflegehelfer", "Kinderkrankenpflegehelferin"),
    ("Krankenschwester/-pfleger", "Krankenpfleger", "Krankenschwester"),
    ("Hebamme/Entbindungspfleger (Hochschule)", "Entbindungspfleger (Hochschule)", "Hebamme (Hochschule)"),
    ("Hausvater/-mutter", "Hausvater", "Hausmutter"),
    ("SOS-Kinderdorfmutter/-vater", "SOS-Kinderdorfvater", "SOS-Kinderdorfmutter"),
    ("Steward/Stewardess (Flugzeug)", "Steward (Flugzeug)", "Stewardess (Flugzeug)"),
    ("Dompteur/Dompteuse", "Dompteur", "Dompteuse"),
    ("Stuntman/-woman", "Stuntman", "Stuntwoman"),
    ("Dipl.-Kaufmann/frau (FH) - Krankenversicherungsmanagement", "Dipl.-Kaufmann (FH) - Krankenversicherungsmanagement", "Dipl.-Kauffrau (FH) - Krankenversicherungsmanagement"),
    ("Glasermeister/in/B. Prof. Glaser-Handwerk", "Glasermeister/B. Prof. Glaser-Handwerk", "Glasermeisterin/B. Prof. Glaser-Handwerk"),
    ("Maschinenformer/in-Gießerei", "Maschinenformer-Gießerei", "Maschinenformerin-Gießerei"),
    ("Dipl.-Nordist/in (Uni)", "Dipl.-Nordist (Uni)", "Dipl.-Nordistin (Uni)"),
    ("Fachverkäufer/in - Elektro/Sanitär/Heizung/Installation", "Fachverkäufer - Elektro/Sanitär/Heizung/Installation", "Fachverkäuferin - Elektro/Sanitär/Heizung/Installation"),
    ("Assistenzarzt/-ärztin (Uni) - Mikrob./Virol./Infektionsepid.", "Assistenzarzt (Uni) - Mikrob./Virol./Infektionsepid.", "Assistenzärztin (Uni) - Mikrob./Virol./Infektionsepid."),
    # No gender form: both readings are the title.
    ("Fachkraft - Gastronomie (Restaurantservice)", "Fachkraft - Gastronomie (Restaurantservice)", "Fachkraft - Gastronomie (Restaurantservice)"),
    ("Commis entremetier", "Commis entremetier", "Commis entremetier"),
    ("Dipl.-Ing. (Uni) - Bohrtechnik/Fluidbergbau", "Dipl.-Ing. (Uni) - Bohrtechnik/Fluidbergbau", "Dipl.-Ing. (Uni) - Bohrtechnik/Fluidbergbau"),
]


@pytest.mark.parametrize(("name", "male", "female"), GENDER_FORMS, ids=[g[0] for g in GENDER_FORMS])
def test_gender_forms(catalogue, name, male, female):
    assert expand_gender_forms(name) == (male, female)


def test_gender_fixture_titles_are_real(catalogue):
    names = {p.name for p in catalogue.professions}
    real = [name for name, _, _ in GENDER_FORMS if name in names]
    assert len(real) >= 30, sorted(set(n for n, _, _ in GENDER_FORMS) - names)


def test_nearly_every_slash_title_gets_two_readings(catalogue):
    slashed = [p for p in catalogue.professions if "/in" in p.name or "/-" in p.name or "/r " in p.name + " "]
    same = [p.name for p in slashed if p.name_male == p.name_female]
    assert len(slashed) > 15_000
    assert len(same) / len(slashed) < 0.005, same[:20]
    assert all("/in" not in p.name_male and "/in" not in p.name_female for p in catalogue.professions
               if p.name.endswith("/in"))


def _bundled_lines() -> list[bytes]:
    return BUNDLED_KLDB_PATH.read_bytes().splitlines(keepends=True)


def test_truncated_mid_record_is_a_clear_error():
    data = BUNDLED_KLDB_PATH.read_bytes()
    cut = data[: data.index(b"Zugeordnete Berufe", 200_000) + 40]  # inside a quoted field or a row
    with pytest.raises(CatalogueFileError, match="line"):
        parse_kldb(cut + b'"', source="cut.csv")


def test_wrong_header_is_rejected():
    with pytest.raises(CatalogueFileError, match="expected the header"):
        parse_kldb(b"code;name\n1;x\n", source="other.csv")


def test_bad_key_is_rejected():
    lines = _bundled_lines()
    broken = lines[0] + b"12x;5;Titel;Kurz;;;;;\n"
    with pytest.raises(CatalogueFileError, match="bad key"):
        parse_kldb(broken)


def test_not_utf8_is_rejected():
    with pytest.raises(CatalogueFileError, match="not UTF-8"):
        parse_kldb("Schlüssel;Ebene".encode("latin-1"))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogueFileError, match="cannot read"):
        read_kldb(tmp_path / "nope.csv")


def test_version_follows_content(catalogue):
    lines = _bundled_lines()
    other = parse_kldb(b"".join(lines[:-1]))
    assert catalogue.version.startswith("KldB2010-V2020-")
    assert other.version != catalogue.version
    assert parse_kldb(BUNDLED_KLDB_PATH.read_bytes()).version == catalogue.version
