"""From API items to postings rows: states, places, dates, both id spellings."""

from __future__ import annotations

import json
from datetime import date, datetime

from ty_assets.postings.rows import POSTING_COLUMNS, posting_row, state_of
from ty_resources.titles import normalize_title

DAY = date(2026, 5, 4)


def row(item: dict) -> dict:
    return dict(zip(POSTING_COLUMNS, posting_row(item, DAY)))


def test_states():
    assert state_of({"region": "Nordrhein-Westfalen", "land": "Deutschland"}) == "Nordrhein-Westfalen"
    assert state_of({"region": "bayern"}) == "Bayern"
    assert state_of({"region": "Tirol", "land": "Österreich"}) == "Ausland"
    assert state_of({"region": "Ausland"}) == "Ausland"
    assert state_of({"region": "", "land": "Deutschland"}) == "unbekannt"
    assert state_of(None) == "unbekannt"


def test_full_item():
    r = row({
        "refnr": "10000-1201234567-S", "titel": "  Fachkraft  Lagerlogistik (m/w/d) ", "beruf": "Fachkraft - Lagerlogistik",
        "arbeitgeber": "Lager GmbH", "aktuelleVeroeffentlichungsdatum": "2026-04-30", "eintrittsdatum": "2026-06-01",
        "modifikationsTimestamp": "2026-04-30T10:15:00Z", "externeUrl": "https://example.com/j/1",
        "arbeitsort": {"plz": 1067, "ort": "Dresden", "region": "Sachsen", "land": "Deutschland",
                       "koordinaten": {"lat": 51.05, "lon": "13.74"}},
    })
    assert r["title"] == "Fachkraft  Lagerlogistik (m/w/d)"
    assert r["title_normalized"] == normalize_title(r["title"]).key == "fachkraft lagerlogistik"
    assert (r["state"], r["plz"], r["city"], r["lat"], r["lon"]) == ("Sachsen", "01067", "Dresden", 51.05, 13.74)
    assert r["published_on"] == date(2026, 4, 30) and r["entry_date"] == date(2026, 6, 1)
    assert r["modified_at"] == datetime.fromisoformat("2026-04-30T10:15:00+00:00")
    assert r["first_seen"] == r["last_seen"] == DAY
    assert json.loads(r["raw"])["refnr"] == "10000-1201234567-S"


def test_sparse_and_bad_fields_do_not_fail():
    r = row({"refnr": "X", "aktuelleVeroeffentlichungsdatum": "gestern", "modifikationsTimestamp": 17,
             "arbeitsort": {"plz": "8001", "land": "Schweiz", "koordinaten": {"lat": "n/a"}}})
    assert r["title"] == "" and r["published_on"] is None and r["modified_at"] is None
    assert (r["state"], r["plz"], r["lat"]) == ("Ausland", "8001", None)  # foreign PLZ stay as given

