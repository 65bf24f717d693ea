"""CV texts made to stall a regex: 50 KB of each pattern that was quadratic (a run of tabs after a label, `A.A.`
and `A'A'` against the street and social-profile patterns, a run of heading decoration or spaces in a skills
line), hostile digit runs for the phone matcher (``phonenumbers`` sees bounded windows with bounded tries) and
random ones go through the anonymiser and the parser in linear time.

The budget is a complexity guard, not a speed target: linear work on 50 KB takes well under a second here, the
quadratic patterns took minutes (3,000 tabs: 3.4 s; 8,000 characters: ~44 s; growing with the square).
"""

from __future__ import annotations

import random
import time

import pytest

from ty_web.cv.anonymise import anonymise
from ty_web.cv.parse import parse_cv

SIZE = 50_000
BUDGET_S = 10.0
_rnd = random.Random(16)
HOSTILE = {
    "tabs after a title": "Lebenslauf\n" + "\t" * SIZE + "Wort",
    "tabs after a label": "Familienstand" + "\t" * SIZE + "ledig",
    "spaces after a label": "Name:" + " " * SIZE + "x",
    "a.a.a. against social profiles": "linkedin.com/in/" + "a." * (SIZE // 2),
    "A.A.A. against streets": "Musterstraße " + "A." * (SIZE // 2),
    "A'A'A' against streets": "A'" * (SIZE // 2),
    "1.1.1.": "1." * (SIZE // 2),
    "dates": "01.01." * (SIZE // 6),
    "heading decoration": "Berufserfahrung\n" + "-|•" * (SIZE // 3) + "x\n",
    "spaces in a skills line": "Kenntnisse\nPython" + " " * SIZE + "SQL\n",
    "newlines": "\n" * SIZE,
    "random": "".join(_rnd.choice("aA1 .-'/\t|•@+:,\n") for _ in range(SIZE)),
    # against the phone matcher (phonenumbers) and the tax-number patterns
    "a digit run": "1" * SIZE,
    "zeros and spaces": "0 " * (SIZE // 2),
    "+49+49+49": "+49" * (SIZE // 3),
    "(((((": "(" * SIZE,
    "1/1/1": "1/" * (SIZE // 2),
    "random digits and separators": "".join(_rnd.choice("0123456789 ()./-+\n") for _ in range(SIZE)),
    "phone numbers": "Tel.: 0171 1234567\t" * (SIZE // 19),
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_is_processed_in_linear_time(text):
    started = time.perf_counter()
    anonymised = anonymise(text, known_names=["Max Mustermann"])
    parse_cv(anonymised.text)
    assert time.perf_counter() - started < BUDGET_S
