"""The BA's offer types (``angebotsart``): the codes the search filter takes and the names the details carry."""

from __future__ import annotations

from typing import Any

# code → the name in JobDetails.angebotsart
OFFER_TYPES: dict[int, str] = {1: "ARBEIT", 2: "SELBSTAENDIGKEIT", 4: "AUSBILDUNG", 34: "PRAKTIKUM_TRAINEE"}
OFFER_CODE_BY_NAME: dict[str, int] = {name: code for code, name in OFFER_TYPES.items()}
OFFER_LABELS: dict[int, str] = {
    1: "Arbeit", 2: "Selbstständigkeit", 4: "Ausbildung / duales Studium", 34: "Praktikum / Trainee",
}


def offer_code(value: Any) -> int | None:
    """The code of an offer type given as a code (``1``, ``"1"``) or a name (``"ARBEIT"``); None if unknown."""
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in OFFER_CODE_BY_NAME:
            return OFFER_CODE_BY_NAME[text.upper()]
        value = text
    try:
        code = int(value)
    except (TypeError, ValueError):
        return None
    return code if code in OFFER_TYPES else None
