"""Thread-safe counters that clients keep and assets put into their metadata."""

from __future__ import annotations

import dataclasses
import threading


@dataclasses.dataclass
class Counters:
    """Subclass with numeric fields; ``add`` may be called from many threads."""

    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        with self._lock:
            return {
                prefix + f.name: round(v, 3) if isinstance(v := getattr(self, f.name), float) else v
                for f in dataclasses.fields(self)
                if not f.name.startswith("_")
            }
