"""The anonymiser's library-backed detectors: phone numbers by ``phonenumbers``, IBANs by ``stdnum.iban``, the
Steuer-ID by ``stdnum.de.idnr``, the Steuernummer by ``stdnum.de.stnr`` and the Rentenversicherungsnummer by the
project's own check digit. What the libraries confirm goes; look-alikes (wrong check digits, years, postcodes,
hours, amounts) stay. The phone matcher's work is bounded (windows, tries) and timed on hostile input.
"""

from __future__ import annotations

import random
import re
import time

import phonenumbers
import pytest

from ty_web.cv import anonymise as anonymise_module
from ty_web.cv.anonymise import (
    PHONE_MAX_TRIES,
    PHONE_WINDOW,
    anonymise,
    iban_is_valid,
    pension_number_is_valid,
    phone_spans,
)
from ty_web.cv.parse import parse_cv

SIZE = 50_000
# a complexity guard, not a speed target (as in test_cv_hostile): each case takes 0.1-0.7 s here on an idle
# machine; the bound that keeps the matcher linear is checked exactly by test_the_matcher_sees_bounded_windows...
BUDGET_S = 10.0


# ------------------------------------------------------------------ phone numbers


@pytest.mark.parametrize("phone", [
    "0171 1234567", "+49 (0) 30 1234567", "030/123 45 67", "0049 89 123456", "0221-123456", "+49-171-1234567",
    "+49 (0) 171 / 123 45 67", "(0351) 456 789-12", "089.1234.5678", "+44 20 7946 0958", "+33 1 23 45 67 89",
    "+43 1 5321234", "030 1234567-12", "0800 1234567",
])
def test_phone_numbers_the_library_validates_are_removed(phone):
    for text in (f"Tel.: {phone}", f"Sie erreichen mich unter {phone} (abends).", f"Kontakt\t{phone}\tE-Mail"):
        out = anonymise(text)
        assert out.removed.get("phone") == 1, (text, out)
        assert re.sub(r"\D", "", phone)[-5:] not in re.sub(r"\D", "", out.text)


def test_several_numbers_on_one_line_are_all_removed():
    out = anonymise("Tel. 0171 1234567 / 030 1234567 · Fax: 030 123456-9")
    assert out.text == "Tel. [TELEFON] / [TELEFON] · Fax: [TELEFON]" and out.removed == {"phone": 3}


def test_after_a_label_an_invalid_number_goes_too():
    # 0123 is no German area code: the library says no, the label says phone
    assert "[TELEFON]" in anonymise("Telefon: 0123 4567890").text
    assert anonymise("Kundennummer 0123 4567890").text == "Kundennummer 0123 4567890"


def test_a_number_is_found_wherever_a_window_ends():
    for pad in range(0, PHONE_WINDOW + 40, 3):
        text = "Wort " * (pad // 5) + "x" * (pad % 5) + " Sie erreichen mich unter 0171 1234567 jederzeit. " + (
            "Pflege " * 80)
        out = anonymise(text)
        assert "1234567" not in out.text and out.removed.get("phone") == 1, pad


@pytest.mark.parametrize("text", [
    "2019", "1990 – 1994 Grundschule", "PLZ 10115", "im PLZ-Gebiet 80331", "40 Stunden", "40 Stunden pro Woche",
    "3.500 EUR", "3.500 € brutto", "Gehalt 45.000 – 55.000 EUR", "Umsatz 1.250.000 EUR", "ca. 10.000 Mitarbeiter",
    "ISO 9001:2015", "Version 3.10.2", "03.2019 – 08.2021", "03/2019 – 08/2021", "01.01.2015 – 31.12.2019",
    "2015 – heute", "Personalnummer 4711", "Kundennummer 12345678901", "Auftragsnummer 4500123456",
    "Bestellnr. 2181081508155", "2018/2019/2020", "SAP R/3 4.7", "Windows 10/11", "Schicht 06:00 - 14:00 Uhr",
    "1.500 Paletten pro Tag", "Budget 250.000 €", "98 %", "Pkw-Führerschein seit 2005", "Projekt 4711/0815",
    "KW 12/2020", "DIN EN ISO 13485:2016", "Jahresgehalt 52000", "EAN 4006381333931", "Raum 1.234",
    "150 Betten, 12 Stationen, 3 Schichten", "Auftragsvolumen 2.500.000", "Zeitraum 2019-2021",
])
def test_ordinary_numbers_are_kept(text):
    assert anonymise(text).text == text


def test_a_postcode_before_a_city_is_a_postcode_not_a_phone_or_tax_number():
    out = anonymise("10115 Berlin")
    assert out.text == "[PLZ] Berlin" and out.removed == {"postcode": 1}


# ------------------------------------------------------------------ IBAN


@pytest.mark.parametrize("iban", [
    "DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "de89 3704 0044 0532 0130 00",
    "AT61 1904 3002 3457 3201", "GB29 NWBK 6016 1331 9268 19", "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300", "CH93 0076 2011 6238 5295 7",
])
def test_ibans_the_library_validates_are_removed(iban):
    assert iban_is_valid(iban)
    out = anonymise(f"Gehalt bitte auf {iban} bei der Sparkasse, BIC COBADEFFXXX")
    assert "[IBAN]" in out.text and out.removed["iban"] == 1
    assert re.sub(r"\s", "", iban)[4:12] not in re.sub(r"\s", "", out.text)


@pytest.mark.parametrize("iban", ["AT61 1904 3002 3457 3202", "GB29 NWBK 6016 1331 9268 18", "NL91ABNA0417164301",
                                  "XX89 3704 0044 0532 0130 00"])
def test_iban_look_alikes_with_a_wrong_checksum_are_kept(iban):
    assert not iban_is_valid(iban)
    assert anonymise(f"Referenz {iban}").text == f"Referenz {iban}"


def test_a_german_shaped_iban_goes_even_with_a_typo():
    """DE and 20 digits is nothing but an IBAN: a mistyped own IBAN is still one's own."""
    assert not iban_is_valid("DE89 3704 0044 0532 0130 01")
    assert anonymise("IBAN DE89 3704 0044 0532 0130 01").text == "IBAN [IBAN]"


# ------------------------------------------------------------------ tax and social-security numbers


@pytest.mark.parametrize("text", [
    "Steuer-ID: 36 574 261 809", "Steuer-ID 36574261809", "meine IdNr 36 574 261 809.",
    "St.-Nr. 181/815/08155", "Steuernummer 2181081508155", "St.Nr. 181 815 08155", "Finanzamt: 21/815/08150",
    "SV-Nummer 15 070649 C 103", "15070649C103", "Rentenversicherungsnummer: 15 070649 C 103",
])
def test_tax_and_social_security_numbers_the_validators_confirm_are_removed(text):
    out = anonymise(text)
    assert "[ENTFERNT]" in out.text and not re.search(r"\d{3}", out.text), out
    assert out.removed == {"personal": 1}


@pytest.mark.parametrize("text", [
    "Referenz 36 574 261 800",  # Steuer-ID with a wrong check digit
    "Vorgang 36574261800",
    "Kennung 15 070649 C 104",  # Rentenversicherungsnummer with a wrong check digit
    "Kennung 15 071349 C 103",  # ... with month 13
    "Raum 1234/815/08155",  # no regional Steuernummer format
])
def test_look_alikes_with_wrong_check_digits_or_formats_are_kept(text):
    assert anonymise(text).text == text


def test_pension_number_check_digit():
    assert pension_number_is_valid("15 070649 C 103") and pension_number_is_valid("15070649c103")
    assert not pension_number_is_valid("15 070649 C 104") and not pension_number_is_valid("15 070649 C 10")
    assert not pension_number_is_valid("15 000649 C 10" + "3")  # day 00


# ------------------------------------------------------------------ the phone matcher's bounds


def test_the_matcher_sees_bounded_windows_and_tries(monkeypatch):
    seen: list[tuple[int, int]] = []
    real = phonenumbers.PhoneNumberMatcher

    def recording(text, region, leniency, max_tries):
        seen.append((len(text), max_tries))
        return real(text, region, leniency=leniency, max_tries=max_tries)

    monkeypatch.setattr(anonymise_module.phonenumbers, "PhoneNumberMatcher", recording)
    text = "0171 1234567 " * 2000 + "\n" + "Sie erreichen mich unter 0171 1234567. " * 500
    assert phone_spans(text)
    assert seen and all(length <= PHONE_WINDOW and tries == PHONE_MAX_TRIES for length, tries in seen)


_rnd = random.Random(16)
HOSTILE = {
    "a digit run": "1" * SIZE,
    "zeros and spaces": "0 " * (SIZE // 2),
    "+49+49+49": "+49" * (SIZE // 3),
    "(((((": "(" * SIZE,
    "(0(0(0": "(0" * (SIZE // 2),
    "1/1/1": "1/" * (SIZE // 2),
    "1-1-1": "1-" * (SIZE // 2),
    "random digits and separators": "".join(_rnd.choice("0123456789 ()./-+") for _ in range(SIZE)),
    "random digits and separators in lines": "".join(_rnd.choice("0123456789 ()./-+\n\t") for _ in range(SIZE)),
    "valid numbers in a row": "0171 1234567 " * (SIZE // 13),
    "valid numbers one per line": "Tel.: 0171 1234567\n" * (SIZE // 19),
    "time stamps": "2019-01-01 12:00 " * (SIZE // 17),
    "tax numbers": "181/815/08155 " * (SIZE // 14),
    "tax ids": "36 574 261 809 " * (SIZE // 15),
    "pension numbers": "15 070649 C 103 " * (SIZE // 16),
    "ibans": "DE89 3704 0044 0532 0130 00 " * (SIZE // 28),
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_numbers_are_processed_in_linear_time(text):
    started = time.perf_counter()
    phone_spans(text)
    anonymised = anonymise(text, known_names=["Max Mustermann"])
    parse_cv(anonymised.text)
    assert time.perf_counter() - started < BUDGET_S
