"""Fill a cache folder with what the bundled catalogue's classifier index derives: the lexical model (tens of
seconds of training) and the catalogue's vectors of the local embedder.

The test session starts this in the background (tests/conftest.py), so the training overlaps with the tests
that need no model; a test that needs it waits on the cache's lock (``ty_resources.code_model.cache_lock``)
and then reads the file. ``python -m ty_testing.warm_cache FOLDER``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ty_resources.classifier import ProfessionIndex
from ty_resources.embedders import local_embedder
from ty_resources.kldb import read_kldb


def warm(cache_dir: Path) -> None:
    ProfessionIndex.from_catalogue(read_kldb(), local_embedder(), cache_dir=cache_dir)


if __name__ == "__main__":
    warm(Path(sys.argv[1]))
