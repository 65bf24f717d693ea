"""CV import through the API: upload (by content, limits), the anonymised draft, import into the profile."""

from __future__ import annotations

import io
import zipfile

import psycopg
import pytest
from web_support import load_catalogue, running_app, sign_up

from ty_testing.cvs import SAMPLE_CVS

FORMATS = ("pdf", "docx", "text")



def upload(user, data: bytes, name: str = "cv.pdf", content_type: str = "application/octet-stream"):
    return user.post("/api/v1/profiles/me/cv", files={"file": (name, data, content_type)})


@pytest.mark.parametrize("fmt", FORMATS)
def test_upload_stores_only_the_anonymised_text_and_a_draft(db_url, fmt):
    cv = SAMPLE_CVS[0]
    data = cv.render(fmt)
    with running_app(db_url) as client:
        user = sign_up(client)
        # The name says nothing: a PDF named .txt is still read as a PDF.
        response = upload(user, data, name="lebenslauf.txt")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["kind"] == fmt
        for values in cv.planted().values():
            for value in values:
                assert value.casefold() not in body["anonymised_text"].casefold()
        assert body["removed"] and body["imported_at"] is None
        jobs = body["draft"]["work_history"]
        assert [(j["title"], j["employer"]) for j in jobs] == [(t, e) for t, e, _, _ in cv.expected_jobs()]
        with psycopg.connect(db_url) as conn:
            stored = conn.execute("SELECT anonymised_text, draft::text FROM cv_drafts WHERE user_id = %s",
                                  (user.id,)).fetchall()
        assert len(stored) == 1 and stored[0][0] == body["anonymised_text"]
        everything = " ".join(stored[0]).casefold()
        assert not any(v.casefold() in everything for vs in cv.planted().values() for v in vs)
        assert user.get(f"/api/v1/profiles/me/cv/{body['id']}").json()["anonymised_text"] == body["anonymised_text"]


def test_disguised_and_oversized_uploads_are_rejected(db_url):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    not_docx = io.BytesIO()
    with zipfile.ZipFile(not_docx, "w") as archive:
        archive.writestr("hello.txt", "hello")
    with running_app(db_url, cv_max_bytes=20_000) as client:
        user = sign_up(client)
        assert upload(user, png, name="cv.pdf", content_type="application/pdf").status_code == 415
        assert upload(user, not_docx.getvalue(), name="cv.docx").status_code == 415
        assert upload(user, b"MZ\x90\x00" + b"\x00" * 100, name="cv.txt").status_code == 415
        too_big = upload(user, b"Lebenslauf\n" + b"x" * 30_000, name="cv.txt")
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
        assert user.post("/api/v1/profiles/me/cv", files={}).status_code == 422  # no file field
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM cv_drafts").fetchone()[0] == 0


def test_import_writes_the_edited_draft_once_and_classifies_the_titles(db_url):
    load_catalogue(db_url)
    cv = SAMPLE_CVS[1]
    with running_app(db_url) as client:
        user = sign_up(client)
        other = sign_up(client)
        draft = upload(user, cv.render("docx"), name="cv.docx").json()
        entries = [{k: job[k] for k in ("title", "employer", "start_date", "end_date")}
                   for job in draft["draft"]["work_history"] if job["title"]]
        entries[0]["title"] = entries[0]["title"] + " (m/w/d)"  # the user's edit
        body = {"work_history": entries, "skills": ["Gabelstaplerschein", "SAP"], "summary": "Zuverlässig."}
        # Someone else's draft id is unknown to them; without CSRF the cookie session is refused.
        assert other.post(f"/api/v1/profiles/me/cv/{draft['id']}/import", json=body).status_code == 404
        assert user.client.post(f"/api/v1/profiles/me/cv/{draft['id']}/import", json=body).status_code == 403
        assert other.get(f"/api/v1/profiles/me/cv/{draft['id']}").status_code == 404
        response = user.post(f"/api/v1/profiles/me/cv/{draft['id']}/import", json=body)
        assert response.status_code == 200, response.text
        out = response.json()
        assert out["imported_entries"] == len(entries)
        assert out["profile"]["skills"] == ["Gabelstaplerschein", "SAP"] and out["profile"]["summary"] == "Zuverlässig."
        history = out["work_history"]
        assert {h["title"] for h in history} == {e["title"] for e in entries}
        assert all(h["source"] == "cv" and h["label_status"] != "unclassified" for h in history)
        assert any(h["berufenet_id"] for h in history)
        again = user.post(f"/api/v1/profiles/me/cv/{draft['id']}/import", json=body)
        assert again.status_code == 409
        assert len(user.get("/api/v1/profiles/me/work-history").json()) == len(entries)  # nothing written twice
        bad = user.post(f"/api/v1/profiles/me/cv/{draft['id']}/import", json={"work_history": [{"title": 3}]})
        assert bad.status_code == 422
        assert {f["field"] for f in bad.json()["error"]["fields"]} >= {"body.work_history.0.title"}
        # a NUL in the summary (PostgreSQL text cannot hold it) is the client's error, not a 500
        nul = user.post(f"/api/v1/profiles/me/cv/{draft['id']}/import", json={"summary": "Koch\u0000"})
        assert nul.status_code == 422 and [f["field"] for f in nul.json()["error"]["fields"]] == ["body.summary"]
        assert user.get("/api/v1/profiles/me/cv/not-a-uuid").status_code == 422


def test_drafts_are_listed_deleted_capped_and_expired(db_url):
    text = b"Lebenslauf\nBerufserfahrung\n2019 - heute Koch, Gasthaus Linde\n"
    with running_app(db_url, cv_max_drafts=2, cv_draft_days=30) as client:
        user, other = sign_up(client), sign_up(client)
        ids = [upload(user, text, "cv.txt", "text/plain").json()["id"] for _ in range(3)]
        listed = user.get("/api/v1/profiles/me/cv")
        assert listed.status_code == 200, listed.text
        assert [d["id"] for d in listed.json()] == [ids[2], ids[1]]  # newest first; the oldest was dropped
        assert set(listed.json()[0]) == {"id", "kind", "created_at", "imported_at"}  # no text in the list
        assert user.get(f"/api/v1/profiles/me/cv/{ids[0]}").status_code == 404
        assert other.delete(f"/api/v1/profiles/me/cv/{ids[1]}").status_code == 404  # not theirs
        assert user.delete(f"/api/v1/profiles/me/cv/{ids[1]}").status_code == 204
        assert user.delete(f"/api/v1/profiles/me/cv/{ids[1]}").status_code == 404
        assert [d["id"] for d in user.get("/api/v1/profiles/me/cv").json()] == [ids[2]]
        with psycopg.connect(db_url) as conn:  # a month and a day later
            conn.execute("UPDATE cv_drafts SET created_at = now() - interval '31 days'")
        assert user.get("/api/v1/profiles/me/cv").json() == []
        assert other.get("/api/v1/profiles/me/cv").json() == []
