"""The BA's offer types (``angebotsart``): the codes the search filter takes and the names the details carry."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class OfferType(IntEnum):
    """Code (the search filter's value, ``postings.offer_type``) and name (``JobDetails.angebotsart``)."""

    ARBEIT = 1
    SELBSTAENDIGKEIT = 2
    AUSBILDUNG = 4  # apprenticeships and dual study
    PRAKTIKUM_TRAINEE = 34


OFFER_TYPES: dict[int, str] = {offer.value: offer.name for offer in OfferType}
OFFER_LABELS: dict[int, str] = {
    OfferType.ARBEIT: "Arbeit", OfferType.SELBSTAENDIGKEIT: "Selbstständigkeit",
    OfferType.AUSBILDUNG: "Ausbildung / duales Studium", OfferType.PRAKTIKUM_TRAINEE: "Praktikum / Trainee",
}


def offer_code(value: Any) -> int | None:
    """The code of an offer type given as a code (``1``, ``"1"``) or a name (``"ARBEIT"``); None if unknown."""
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in OfferType.__members__:
            return OfferType[text.upper()].value
        value = text
    try:
        code = int(value)
    except (TypeError, ValueError):
        return None
    return code if code in OFFER_TYPES else None
