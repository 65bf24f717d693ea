"""The job-board vocabulary: the reviewed data file loads, and what it does to the text searched for a key."""

from __future__ import annotations

import tomllib

import pytest

from ty_resources.titles import normalize_title, reading_key
from ty_resources.vocabulary import VOCABULARY_FILE, Vocabulary, job_board_vocabulary


def search(title: str) -> str:
    return job_board_vocabulary().search_key(normalize_title(title).key)


@pytest.mark.parametrize(("title", "searched"), [
    # abbreviations job boards use every day
    ("BKF (m/w/d) C/CE – Tagestouren, kein Wochenende", "berufskraftfahrer"),
    ("TFA (m/w/d) Kleintierpraxis", "tiermedizinischer fachangestellter kleintierpraxis"),
    ("Anlagenmechaniker SHK (m/w/d) – bis 4.000 € + E-Auto", "anlagenmechaniker sanitär heizungs klimatechnik"),
    ("GaLa-Bauer (m/w/d)", "gärtner garten landschaftsbau"),
    ("MTRA (m/w/d) Radiologie", "medizinisch technischer radiologieassistent radiologie"),
    # qualifiers and advertising leave
    ("Gelernter Industriemechaniker (m/w/d) Instandhaltung", "industriemechaniker instandhaltung"),
    ("Erzieher mit Herz (m/w/d) für unser Team", "erzieher"),
    # licence classes leave where the title names a driver or a licence, and only there
    ("Fahrer (m/w/d) Führerschein C mit Ladekran", "fahrer ladekran"),
    ("C-Entwickler (m/w/d)", "c entwickler"),
    # people describing their own job
    ("ich arbeite als Lehrerin an einer Grundschule", "lehrer grundschule"),
    ("fahre Pakete für einen Lieferdienst", "fahrer pakete einen lieferdienst"),
    ("Reno in einer Kanzlei", "rechtsanwaltsfachangestellter kanzlei"),
    # a key the vocabulary would empty is searched as it is
    ("Quereinsteiger (m/w/d)", "quereinsteiger"),
])
def test_what_is_searched_for_a_title(title, searched):
    assert search(title) == searched


def test_a_title_without_job_board_words_is_searched_as_its_key():
    for title in ("Tischler (m/w/d) Möbelbau", "Kaufmann/-frau - Büromanagement", "Koch/Köchin"):
        assert search(title) == normalize_title(title).key


def test_every_entry_of_the_file_folds_to_words_and_stands_once():
    data = tomllib.loads(VOCABULARY_FILE.read_text(encoding="utf-8"))
    vocabulary = job_board_vocabulary()
    entries = [*data["abbreviations"], *data["role_words"], *data["filler"]["words"],
               *data["filler"]["sentence_words"], *data["filler"]["phrases"]]
    assert len(vocabulary.replace) == len(entries)
    assert all(reading_key(entry) for entry in entries)


@pytest.mark.parametrize(("text", "problem"), [
    ('[filler]\nwords = ["gesucht"]', "folds to nothing"),  # the title normaliser removes it already
    ('[abbreviations]\n"tfa" = "x"\n[role_words]\n"TFA" = "y"', "listed twice"),
    ('[filler]\nwords = ["Erzieherin", "Erzieher"]', "listed twice"),  # both fold to 'erzieher'
])
def test_a_file_with_an_entry_that_cannot_work_is_refused(text, problem):
    with pytest.raises(ValueError, match=problem):
        Vocabulary.from_toml(text)


def test_an_empty_vocabulary_changes_nothing():
    assert Vocabulary.from_toml("").search_key("bkf c ce") == "bkf c ce"
