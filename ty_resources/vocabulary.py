"""Job-board vocabulary: the text searched in the catalogue for a title key. Pure logic, standard library.

Job boards write around a profession: qualifiers (``Gelernte/r``), advertising (``Urlaubsgeld``, ``mit
Herz``), abbreviations (``BKF``, ``TFA``, ``SHK``), licence classes (``Führerschein CE``). The words are data
(``data/job_board_vocabulary.toml``), folded like title keys when loaded. :meth:`Vocabulary.search_key` turns
a title's key into what is searched: abbreviations expanded, role words respelt, filler left out. The key
itself (what labels are stored under) never changes.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ty_resources.titles import reading_key

VOCABULARY_FILE = Path(__file__).with_name("data") / "job_board_vocabulary.toml"
# Words of a key that are searched: a title or a self-description names its profession well within them (the
# hand-written sets: 10 at most), and expansions multiply what follows (a 50 KB key of 'bkf tfa ...' took 2 s
# to classify, against 0.1 s without the vocabulary).
MAX_SEARCH_WORDS = 24


@dataclass(frozen=True)
class Vocabulary:
    replace: dict[tuple[str, ...], tuple[str, ...]]  # folded word sequence -> words instead (none: dropped)
    licences: frozenset[str]  # licence words: left out where a driver is named, and right after a cue
    cues: frozenset[str]  # words that say a licence follows ("führerschein", "klasse")
    drivers: frozenset[str]  # words of a driver of no particular kind
    classes: dict[str, tuple[str, ...]]  # licence class -> the driver it names, for a driver of no kind
    longest: int  # words in the longest entry
    digest: str = ""  # of the text it was read from: part of the labels' decision version

    @classmethod
    def from_toml(cls, text: str) -> Vocabulary:
        """The vocabulary of a TOML text; ValueError for an entry that folds to nothing or is listed twice."""
        data = tomllib.loads(text)
        replace: dict[tuple[str, ...], tuple[str, ...]] = {}

        def add(entry: str, instead: str, section: str) -> None:
            key = tuple(reading_key(entry).split())
            if not key:
                raise ValueError(f"[{section}] {entry!r} folds to nothing")
            if key in replace:
                raise ValueError(f"[{section}] {entry!r} is listed twice (as {' '.join(key)!r})")
            replace[key] = tuple(reading_key(instead).split())

        for section in ("abbreviations", "role_words"):
            for entry, instead in data.get(section, {}).items():
                add(entry, instead, section)
        filler = data.get("filler", {})
        for entry in [*filler.get("words", []), *filler.get("sentence_words", []), *filler.get("phrases", [])]:
            add(entry, "", "filler")
        licences = data.get("licences", {})

        def words(entries: list[str]) -> frozenset[str]:
            return frozenset(word for entry in entries for word in reading_key(entry).split())

        return cls(
            replace=replace,
            licences=words(licences.get("words", [])),
            cues=words(licences.get("cues", [])),
            drivers=words(licences.get("drivers", [])),
            classes={reading_key(k): tuple(reading_key(v).split()) for k, v in licences.get("classes", {}).items()},
            longest=max((len(key) for key in replace), default=1),
            digest=hashlib.sha256(text.encode()).hexdigest()[:16],
        )

    def search_key(self, key: str) -> str:
        """What to search for ``key``: the longest entry at each word replaced (an expansion the key spells
        out already is dropped: ``MFA`` beside ``Medizinische Fachangestellte``), then the licences
        (:meth:`_licences`); ``key`` itself when nothing would be left. Only the first :data:`MAX_SEARCH_WORDS`
        words of ``key`` count."""
        words = key.split()[:MAX_SEARCH_WORDS]
        key = " ".join(words)
        present = set(words)
        out: list[str] = []
        i = 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                instead = self.replace.get(tuple(words[i : i + n]))
                if instead is not None:
                    if not (n == 1 and instead and present.issuperset(instead)):
                        out.extend(instead)
                    i += n
                    break
            else:
                out.append(words[i])
                i += 1
        out = self._licences(out)
        kept = [word for j, word in enumerate(out) if j == 0 or out[j - 1] != word]
        return " ".join(kept) or key

    def _licences(self, words: list[str]) -> list[str]:
        """A driver of no kind takes the kind its licence class names ('fahrer ce' -> 'berufskraftfahrer'); the
        licence words go where a driver is named, and right after a cue ('führerschein b'): elsewhere a 'c' may
        be a language ('c entwickler')."""
        driver = any(word in self.drivers or word.endswith("fahrer") for word in words)
        named = next((self.classes[word] for word in words if word in self.classes), None) if driver else None
        out: list[str] = []
        after_cue = False
        for word in words:
            if named is not None and word in self.drivers:
                out.extend(named)
                named = None
                continue
            if word in self.licences and (driver or after_cue or word in self.cues):
                after_cue = after_cue or word in self.cues
                continue
            after_cue = False
            out.append(word)
        return out


@lru_cache(maxsize=1)
def job_board_vocabulary() -> Vocabulary:
    return Vocabulary.from_toml(VOCABULARY_FILE.read_text(encoding="utf-8"))
