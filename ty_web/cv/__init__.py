"""CV import: recognise the upload by its content, extract its text, anonymise it, parse a draft.

Pure logic (no FastAPI, no database). The API calls :func:`process_cv` and stores only what it returns:
the original file is never kept, and nothing personal that the anonymiser recognises survives into
``anonymised_text`` or ``draft``.

The submodules ``extract``, ``anonymise`` and ``parse`` hold the steps (``extract.extract``,
``anonymise.anonymise``, ``parse.parse_cv``) for callers that need only one.

Errors map to HTTP statuses through their ``status`` attribute: :class:`CvTooLarge` 413,
:class:`CvUnsupported` 415, :class:`CvUnreadable` 422 (all subclasses of :class:`CvError`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ty_web.cv import anonymise, extract
from ty_web.cv.anonymise import PLACEHOLDERS, Anonymised
from ty_web.cv.extract import TIME_LIMIT_S, CvError, CvTooLarge, CvUnreadable, CvUnsupported, Kind, sniff
from ty_web.cv.parse import CvDraft, EducationEntry, WorkEntry, parse_cv

__all__ = [
    "PLACEHOLDERS",
    "Anonymised",
    "CvDraft",
    "CvError",
    "CvResult",
    "CvTooLarge",
    "CvUnreadable",
    "CvUnsupported",
    "EducationEntry",
    "Kind",
    "WorkEntry",
    "parse_cv",
    "process_cv",
    "sniff",
]


@dataclass(frozen=True)
class CvResult:
    kind: Kind  # "pdf", "docx" or "text": detected from the content (cv_drafts.filename_kind)
    anonymised_text: str
    draft: CvDraft  # draft.model_dump(mode="json") for the jsonb column
    removed: dict[str, int] = field(default_factory=dict)  # placeholder kind -> count, never the values


def process_cv(data: bytes, max_bytes: int, *, known_names: Iterable[str] = (), known_emails: Iterable[str] = (),
               time_limit_s: float = TIME_LIMIT_S) -> CvResult:
    """Extract, anonymise and parse one upload.

    ``known_names``/``known_emails``: what the account already knows about the person (display name,
    login e-mail), removed as well. Raises :class:`CvTooLarge`, :class:`CvUnsupported` or
    :class:`CvUnreadable`; CPU-bound and blocking, so call it from a plain ``def`` endpoint.
    """
    extracted = extract.extract(data, max_bytes, time_limit_s=time_limit_s)
    anonymised = anonymise.anonymise(extracted.text, known_names=known_names, known_emails=known_emails)
    return CvResult(extracted.kind, anonymised.text, parse_cv(anonymised.text), anonymised.removed)
