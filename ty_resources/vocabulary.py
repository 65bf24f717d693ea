"""Job-board vocabulary: the text searched in the catalogue for a title key. Pure logic, standard library.

Job boards write around a profession: qualifiers (``Gelernte/r``), advertising (``Top-Gehalt``, ``mit
Herz``), abbreviations (``BKF``, ``TFA``, ``SHK``), licence classes (``Führerschein CE``). The words are data
(``data/job_board_vocabulary.toml``), folded like title keys when loaded. :meth:`Vocabulary.search_key` turns
a title's key into what is searched: abbreviations expanded, role words respelt, filler left out. The key
itself (what labels are stored under) never changes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ty_resources.titles import reading_key

VOCABULARY_FILE = Path(__file__).with_name("data") / "job_board_vocabulary.toml"


@dataclass(frozen=True)
class Vocabulary:
    replace: dict[tuple[str, ...], tuple[str, ...]]  # folded word sequence -> words instead (none: dropped)
    licences: frozenset[str]  # dropped where a cue stands in the key
    cues: frozenset[str]
    cue_endings: tuple[str, ...]
    longest: int  # words in the longest entry

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
        cues = [str(cue) for cue in licences.get("cues", [])]
        return cls(
            replace=replace,
            licences=frozenset(word for entry in licences.get("words", []) for word in reading_key(entry).split()),
            cues=frozenset(reading_key(cue) for cue in cues if not cue.startswith("-")),
            cue_endings=tuple(cue[1:] for cue in cues if cue.startswith("-")),
            longest=max((len(key) for key in replace), default=1),
        )

    def search_key(self, key: str) -> str:
        """What to search for ``key``: the longest entry at each word replaced, then licence classes left out
        where a cue stands; ``key`` itself when nothing would be left."""
        words = key.split()
        out: list[str] = []
        i = 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                instead = self.replace.get(tuple(words[i : i + n]))
                if instead is not None:
                    out.extend(instead)
                    i += n
                    break
            else:
                out.append(words[i])
                i += 1
        if any(word in self.cues or word.endswith(self.cue_endings) for word in out):
            out = [word for word in out if word not in self.licences]
        kept = [word for j, word in enumerate(out) if j == 0 or out[j - 1] != word]
        return " ".join(kept) or key


@lru_cache(maxsize=1)
def job_board_vocabulary() -> Vocabulary:
    return Vocabulary.from_toml(VOCABULARY_FILE.read_text(encoding="utf-8"))
