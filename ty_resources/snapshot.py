"""The snapshot file: days of the BA job search API in its own JSON shapes, read by the offline source.

A snapshot holds ``postings`` (each ``stellenangebote[]`` item of ``GET /pc/v4/jobs`` once, by refnr), ``days``
(per day the refnrs the search returns, in API order, duplicates kept), ``details`` (``JobDetails`` of
``GET /pc/v4/jobdetails/{base64(refnr)}``; a refnr without details answers 404) and, for evaluation only,
``truth`` (the BERUFENET id a generated posting was made from). :mod:`ty_resources.sample` generates one;
``tyctl sample`` writes it.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

SNAPSHOT_FORMAT = "ty-ba-snapshot/1"


class SnapshotError(ValueError):
    """A snapshot file that cannot be read, is no snapshot, or is damaged."""


# ------------------------------------------------------------------- snapshot


@dataclass
class Snapshot:
    """Days of the BA job search API, in its shapes (see the module docstring).

    ``items_for`` hands out the stored item dicts themselves: do not mutate them.
    """

    meta: dict[str, Any]
    postings: dict[str, dict[str, Any]]
    days: dict[str, list[str]]
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    truth: dict[str, str] = field(default_factory=dict)

    @property
    def day_keys(self) -> list[str]:
        """The snapshot's days (ISO dates), ascending."""
        return sorted(self.days)

    def items_for(self, day: str) -> list[dict[str, Any]]:
        """The items the API returns on ``day``, in API order, duplicates kept."""
        try:
            refnrs = self.days[day]
        except KeyError:
            keys = self.day_keys
            span = f"{keys[0]} .. {keys[-1]} ({len(keys)} days)" if keys else "no days at all"
            raise KeyError(f"day {day!r} is not in the snapshot; it covers {span}") from None
        return [self.postings[refnr] for refnr in refnrs]

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "postings": self.postings, "days": self.days,
                "details": self.details, "truth": self.truth}

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON in the dicts' (insertion) order, which ``load`` keeps: equal
        snapshots built the same way give equal bytes, and a loaded snapshot saves unchanged."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()

    def save(self, path: Path) -> None:
        """Write gzip JSON if ``path`` ends with ``.gz``, else plain JSON; atomically (temp file + rename).

        The gzip header carries no name and no time, so the file's bytes depend on the snapshot only.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = self.to_json()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as raw:
                if path.name.endswith(".gz"):
                    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
                        gz.write(payload)
                else:
                    raw.write(payload)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        """Read a snapshot (gzip or plain JSON, told apart by content) and check its shape."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SnapshotError(f"{path}: cannot read the snapshot: {exc}") from exc
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, ValueError) as exc:  # BadGzipFile is an OSError; zlib.error too
                raise SnapshotError(f"{path}: damaged gzip data: {exc}") from exc
        try:
            body = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise SnapshotError(f"{path}: not JSON: {exc}") from exc
        return cls._from_body(body, str(path))

    @classmethod
    def _from_body(cls, body: Any, where: str) -> Snapshot:
        def fail(problem: str) -> SnapshotError:
            return SnapshotError(f"{where}: {problem}")

        if not isinstance(body, dict):
            raise fail(f"expected a JSON object, found {type(body).__name__}")
        meta = body.get("meta")
        if not isinstance(meta, dict):
            raise fail("no 'meta' object: not a snapshot file")
        if meta.get("format") != SNAPSHOT_FORMAT:
            raise fail(f"format {meta.get('format')!r} is not supported (expected {SNAPSHOT_FORMAT!r})")

        def section(name: str, default: dict[str, Any] | None = None) -> dict[str, Any]:
            value = body.get(name, default)
            if not isinstance(value, dict):
                raise fail(f"'{name}' must be an object, found {type(value).__name__}")
            return value

        postings, days = section("postings"), section("days")
        details, truth = section("details", {}), section("truth", {})
        for refnr, item in postings.items():
            if not isinstance(item, dict) or item.get("refnr") != refnr:
                raise fail(f"posting {refnr!r} is not an item with that refnr: {str(item)[:120]}")
        for day, refnrs in days.items():
            try:
                date.fromisoformat(day)
            except ValueError:
                raise fail(f"day {day!r} is not an ISO date") from None
            if not isinstance(refnrs, list):
                raise fail(f"day {day}: expected a list of refnrs, found {type(refnrs).__name__}")
            for refnr in refnrs:
                if not isinstance(refnr, str) or refnr not in postings:
                    raise fail(f"day {day} lists {refnr!r}, which is not among the postings")
        for name, value in (("details", details), ("truth", truth)):
            for refnr in value:
                if refnr not in postings:
                    raise fail(f"'{name}' has {refnr!r}, which is not among the postings")
        for refnr, detail in details.items():
            if not isinstance(detail, dict):
                raise fail(f"details of {refnr}: expected an object, found {type(detail).__name__}")
        return cls(meta=meta, postings=postings, days=days, details=details, truth=truth)
