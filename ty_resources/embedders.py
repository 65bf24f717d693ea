"""Embedders: one small protocol, two implementations.

- :class:`LocalEmbedder` — offline, no download, no network: signed feature
  hashing of character n-grams (3–5, inside word boundaries) plus whole words
  into a fixed number of dimensions, L2-normalised. German compounds share
  n-grams with their parts (``Lagerlogistik`` ~ ``Fachkraft Lagerlogistik``),
  so it finds lexical neighbours well and knows nothing of meaning
  (``Koch`` and ``Küchenhilfe`` are far apart). Deterministic across processes
  and machines (CRC32, not Python's salted ``hash``).
- :class:`~ty_resources.ollama.OllamaClient` — a real embedding model
  (default ``bge-m3``) on one or more Ollama hosts.

:func:`embedder_from_settings` picks Ollama when a host is configured (``OLLAMA_HOST``),
else the local one (the graph's ``EmbedderResource`` does the same).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ty_resources.ollama import OllamaClient
from ty_resources.settings import Settings, get_settings


class Embedder(Protocol):
    """Texts in, unit vectors out, in input order."""

    @property
    def model(self) -> str:
        """Identifies the vectors: rows of different models are never compared."""

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Array of shape (len(texts), dimension), float32, each row of norm 1 (or 0 for an empty text)."""


_WORD = re.compile(r"\w+", re.UNICODE)


class LocalEmbedder:
    """Hashed character n-grams and words; ``dimension`` dims; ~10k short titles/s per core."""

    version = "v1"

    def __init__(self, dimension: int = 384, ngram_range: tuple[int, int] = (3, 5), word_weight: float = 2.0):
        self._dimension = dimension
        self.ngram_range = ngram_range
        self.word_weight = word_weight

    @property
    def model(self) -> str:
        low, high = self.ngram_range
        return f"local-hash-{self.version}-{self._dimension}d-{low}{high}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def features(self, text: str) -> list[tuple[str, float]]:
        folded = unicodedata.normalize("NFKC", text).casefold()
        features: list[tuple[str, float]] = []
        low, high = self.ngram_range
        for word in _WORD.findall(folded):
            features.append(("w:" + word, self.word_weight))
            padded = f"<{word}>"
            for n in range(low, high + 1):
                for start in range(len(padded) - n + 1):
                    features.append((padded[start : start + n], 1.0))
        return features

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        dim = self._dimension
        crc = zlib.crc32
        for row, text in enumerate(texts):
            for feature, weight in self.features(text):
                h = crc(feature.encode())
                rows.append(row)
                cols.append(h % dim)
                values.append(weight if h & 0x80000000 else -weight)  # the top bit signs the feature
        matrix = np.zeros((len(texts), dim), dtype=np.float32)
        if rows:
            np.add.at(matrix, (np.asarray(rows), np.asarray(cols)), np.asarray(values, dtype=np.float32))
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix


def local_embedder(settings: Settings | None = None) -> LocalEmbedder:
    return LocalEmbedder(dimension=(settings or get_settings()).local_embed_dimension)


def embedder_from_settings(settings: Settings | None = None) -> Embedder:
    """Outside Dagster (CLI, web app): Ollama's embedding model when OLLAMA_HOST is set, else the local one.
    The caller closes an OllamaClient it gets."""
    settings = settings or get_settings()
    if settings.ollama_hosts:
        return OllamaClient.from_settings(settings)
    return local_embedder(settings)


def embedding_model_name(settings: Settings | None = None) -> str:
    """The model name :func:`embedder_from_settings` (and the pipeline's EmbedderResource) gives its vectors with
    these settings; no request is made."""
    settings = settings or get_settings()
    if settings.ollama_hosts:
        client = OllamaClient.from_settings(settings)
        try:
            return client.model
        finally:
            client.close()
    return local_embedder(settings).model
