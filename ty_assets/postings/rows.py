"""From an API item (either shape, already carrying ``refnr``) to a ``postings`` row. Pure logic."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from ty_resources.germany import ABROAD, LAENDER, UNKNOWN_STATE
from ty_resources.offers import offer_code
from ty_resources.titles import title_key

POSTING_COLUMNS: tuple[str, ...] = (
    "refnr", "title", "title_normalized", "beruf", "employer", "state", "plz", "city", "lat", "lon",
    "published_on", "entry_date", "modified_at", "external_url", "offer_type", "raw", "first_seen", "last_seen",
)
_LAENDER = {land.casefold(): land for land in LAENDER}
GERMANY = {"deutschland", "germany", "de"}


def state_of(place: dict[str, Any] | None) -> str:
    """One of the 16 Länder, ``Ausland``, or ``unbekannt`` (:mod:`ty_resources.germany`)."""
    place = place or {}
    region = str(place.get("region") or "").strip()
    country = str(place.get("land") or "").strip().casefold()
    if region.casefold() in _LAENDER and country in GERMANY | {""}:
        return _LAENDER[region.casefold()]
    if region.casefold() == ABROAD.casefold() or (country and country not in GERMANY):
        return ABROAD
    return UNKNOWN_STATE


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def posting_row(item: dict[str, Any], day: date) -> tuple[Any, ...]:
    """The row for ``POSTING_COLUMNS``; ``day`` is the partition that fetched it."""
    arbeitsort = item.get("arbeitsort")
    place: dict[str, Any] = arbeitsort if isinstance(arbeitsort, dict) else {}
    koordinaten = place.get("koordinaten")
    coordinates: dict[str, Any] = koordinaten if isinstance(koordinaten, dict) else {}
    title = _text(item.get("titel")) or _text(item.get("beruf")) or ""
    state = state_of(place)
    plz = _text(place.get("plz"))
    if plz and plz.isdigit() and len(plz) < 5 and state != ABROAD:
        plz = plz.zfill(5)  # the API sends German PLZ as integers in places: 1067 is 01067
    return (
        item["refnr"],
        title,
        title_key(title),
        _text(item.get("beruf")),
        _text(item.get("arbeitgeber")),
        state,
        plz,
        _text(place.get("ort")),
        _float(coordinates.get("lat")),
        _float(coordinates.get("lon")),
        _date(item.get("aktuelleVeroeffentlichungsdatum")),
        _date(item.get("eintrittsdatum")),
        _timestamp(item.get("modifikationsTimestamp")),
        _text(item.get("externeUrl")),
        offer_code(item.get("angebotsart")),
        json.dumps(item, ensure_ascii=False),
        day,
        day,
    )
