"""Where and when, once for the whole project: the 16 Länder, the states a posting can be in, the time zone.

A posting's ``state`` (``postings.state``) is one of the 16 Länder, ``Ausland`` (abroad) or ``unbekannt`` (no
usable place); a job seeker's profile may ask for the Länder and ``Ausland``. Partition keys, schedules and
"today" are Europe/Berlin.
"""

from __future__ import annotations

from datetime import time
from typing import Literal, get_args
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
# A day's partition must be complete by this time the next morning (the freshness checks judge it then); until
# then the live crawl may still fetch that day, so a daily run that crosses midnight still writes its own day.
PARTITION_DEADLINE = time(2, 0)

Land = Literal[
    "Baden-Württemberg", "Bayern", "Berlin", "Brandenburg", "Bremen", "Hamburg", "Hessen",
    "Mecklenburg-Vorpommern", "Niedersachsen", "Nordrhein-Westfalen", "Rheinland-Pfalz", "Saarland",
    "Sachsen", "Sachsen-Anhalt", "Schleswig-Holstein", "Thüringen",
]
ABROAD = "Ausland"
UNKNOWN_STATE = "unbekannt"

# What a profile may ask for: a Land or abroad.
ProfileState = Literal[Land, "Ausland"]
# What a posting's state is: a Land, abroad, or unknown.
PostingState = Literal[Land, "Ausland", "unbekannt"]

LAENDER: tuple[str, ...] = get_args(Land)
PROFILE_STATES: tuple[str, ...] = (*LAENDER, ABROAD)
POSTING_STATES: tuple[str, ...] = (*LAENDER, ABROAD, UNKNOWN_STATE)
