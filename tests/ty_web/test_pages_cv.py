"""The CV pages through the real app: upload a test CV, the anonymised text beside the editable draft, import
(once), the list of uploads and delete; refused files shown on the form; CSRF, sign-in, other users' drafts;
markup in a CV shown as text."""

from __future__ import annotations

import html
import re
import uuid

import psycopg
from markupsafe import escape
from web_support import running_app, sign_up

from ty_testing.cvs import SAMPLE_CVS

XSS = ('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>')
MARKUP_CV = (b"Lebenslauf\n\nBerufserfahrung\n\n"
             b"01/2018 - 12/2020 Lagerist <script>alert(1)</script>\nLogistik GmbH\n"
             b'- Wareneingang "><img src=x onerror=alert(1)>\n\n'
             b"Kenntnisse\n\n<script>alert(1)</script>, Gabelstapler\n")


def upload(user, data: bytes, name: str = "cv.pdf", **kwargs):
    return user.client.post("/cv", data={"csrf_token": user.csrf}, files={"file": (name, data)},
                            follow_redirects=False, **kwargs)


def form_post(user, url, data, **kwargs):
    return user.client.post(url, data={"csrf_token": user.csrf, **data}, follow_redirects=False, **kwargs)


def draft_id_of(response) -> str:
    assert response.status_code == 303, response.text[:2000]
    match = re.fullmatch(r"/cv/([0-9a-f-]{36})", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def import_form(page_html: str) -> dict[str, list[str]]:
    """The import form's fields as a browser would send them unchanged (text inputs and textareas)."""
    form = page_html.split('action="/cv/')[1].split("</form>")[0]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input id="cv-[^"]+" name="([a-z_]+)" type="(?:text|date)" value="([^"]*)"',
                                  form):
        fields.setdefault(name, []).append(html.unescape(value))
    for name, value in re.findall(r'<textarea id="cv-[^"]+" name="([a-z_]+)"[^>]*>([^<]*)</textarea>', form):
        fields.setdefault(name, []).append(html.unescape(value))
    return fields


def test_the_cv_page_in_german_and_english_and_for_the_anonymous(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        page = user.client.get("/cv")
        assert page.status_code == 200 and page.headers["content-language"] == "de"
        assert "Ihr Lebenslauf" in page.text and 'enctype="multipart/form-data"' in page.text
        assert 'type="file"' in page.text and 'name="file"' in page.text and "Noch keine Uploads." in page.text
        user.client.cookies.set("ty_lang", "en")
        assert "Your CV" in user.client.get("/cv").text
        anonymous = client.get("/cv", follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/cv"
        assert client.get(f"/cv/{uuid.uuid4()}", follow_redirects=False).status_code == 303


def test_a_test_cv_is_uploaded_corrected_and_imported_once(db_url):
    cv = SAMPLE_CVS[1]
    with running_app(db_url) as client:
        user = sign_up(client)
        draft_id = draft_id_of(upload(user, cv.render("docx"), name="lebenslauf.docx"))
        page = user.client.get(f"/cv/{draft_id}")
        assert page.status_code == 200
        assert 'class="two-columns"' in page.text and '<pre class="text"' in page.text
        for values in cv.planted().values():
            for value in values:
                assert value.casefold() not in page.text.casefold()
        jobs = cv.expected_jobs()
        for title, employer, _start, _end in jobs:
            assert f'value="{escape(title)}"' in page.text and f'value="{escape(employer)}"' in page.text
        listing = user.client.get("/cv")
        assert f'href="/cv/{draft_id}"' in listing.text and "Nicht übernommen" in listing.text

        fields = import_form(page.text)
        assert len(fields["title"]) == len(jobs) + 1  # and one empty position to add
        fields["title"][0] = fields["title"][0] + " (m/w/d)"
        fields["skills"] = ["Gabelstaplerschein, SAP"]
        fields["summary"] = ["Zuverlässig."]
        imported = form_post(user, f"/cv/{draft_id}/import", {**fields, "remove": ["1"]})
        assert imported.status_code == 303 and imported.headers["location"] == "/profile?done=imported"
        with psycopg.connect(db_url) as conn:
            rows = conn.execute("SELECT title, source FROM work_history WHERE user_id = %s ORDER BY id",
                                (user.id,)).fetchall()
            skills, summary = conn.execute("SELECT skills, summary FROM profiles WHERE user_id = %s",
                                           (user.id,)).fetchone()
        expected = [jobs[0][0] + " (m/w/d)", *(job[0] for job in jobs[2:])]
        assert [title for title, _ in rows] == expected and {source for _, source in rows} == {"cv"}
        assert skills == ["Gabelstaplerschein", "SAP"] and summary == "Zuverlässig."
        assert "Ihr Lebenslauf wurde in Ihr Profil übernommen." in user.client.get("/profile?done=imported").text

        again = form_post(user, f"/cv/{draft_id}/import", fields)
        assert again.status_code == 409 and "bereits übernommen" in again.text
        assert "Übernommen am" in user.client.get("/cv").text
        assert "wurde am" in user.client.get(f"/cv/{draft_id}").text


def test_invalid_import_input_is_shown_next_to_the_field(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        draft_id = draft_id_of(upload(user, SAMPLE_CVS[0].render("text"), name="cv.txt"))
        fields = import_form(user.client.get(f"/cv/{draft_id}").text)
        fields["title"][0] = "  "
        fields["end_date"][1] = "1800-01-01"
        bad = form_post(user, f"/cv/{draft_id}/import", fields)
        assert bad.status_code == 422
        assert 'id="cv-0-title-error"' in bad.text and "Bitte füllen Sie dieses Feld aus." in bad.text
        assert 'id="cv-1-end_date-error"' in bad.text
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM work_history WHERE user_id = %s", (user.id,)).fetchone()[0] == 0
            assert conn.execute("SELECT imported_at FROM cv_drafts WHERE id = %s", (draft_id,)).fetchone()[0] is None


def test_refused_files_are_shown_on_the_form(db_url):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    with running_app(db_url, cv_max_bytes=20_000) as client:
        user = sign_up(client)
        refused = upload(user, png, name="cv.pdf")
        assert refused.status_code == 415
        assert "Das ist keine PDF-, Word- (DOCX) oder Textdatei." in refused.text
        assert 'id="cv-file-error"' in refused.text
        too_big = upload(user, b"Lebenslauf\n" + b"x" * 30_000, name="cv.txt")
        assert too_big.status_code == 413 and "zu groß" in too_big.text
        none = user.client.post("/cv", data={"csrf_token": user.csrf}, files={"file": ("", b"")},
                                follow_redirects=False)
        assert none.status_code == 422 and "Bitte wählen Sie eine Datei" in none.text
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM cv_drafts").fetchone()[0] == 0


def test_csrf_sign_in_and_other_users_drafts(db_url):
    with running_app(db_url) as client:
        user, other = sign_up(client), sign_up(client)
        data = SAMPLE_CVS[2].render("text")
        no_token = user.client.post("/cv", files={"file": ("cv.txt", data)}, follow_redirects=False)
        assert no_token.status_code == 403
        assert upload(user, data, name="cv.txt", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        draft_id = draft_id_of(upload(user, data, name="cv.txt"))
        assert user.client.post(f"/cv/{draft_id}/import", data={}, follow_redirects=False).status_code == 403
        assert user.client.post(f"/cv/{draft_id}/delete", data={}, follow_redirects=False).status_code == 403
        assert form_post(user, f"/cv/{draft_id}/delete", {}, headers={"Sec-Fetch-Site": "cross-site"}
                         ).status_code == 403
        assert other.client.get(f"/cv/{draft_id}").status_code == 404
        assert form_post(other, f"/cv/{draft_id}/import", {"skills": "x"}).status_code == 404
        assert form_post(other, f"/cv/{draft_id}/delete", {}).status_code == 404
        assert draft_id not in other.client.get("/cv").text
        assert user.client.get("/cv/not-a-uuid").status_code == 404
        deleted = form_post(user, f"/cv/{draft_id}/delete", {})
        assert deleted.status_code == 303 and deleted.headers["location"] == "/cv?done=deleted"
        assert "Der Upload wurde gelöscht." in user.client.get("/cv?done=deleted").text
        assert user.client.get(f"/cv/{draft_id}").status_code == 404


def test_markup_in_a_cv_is_shown_as_text(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        draft_id = draft_id_of(upload(user, MARKUP_CV, name="cv.txt"))
        page = user.client.get(f"/cv/{draft_id}")
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        for raw in XSS:
            assert raw not in page.text
        fields = import_form(page.text)
        bad = form_post(user, f"/cv/{draft_id}/import", {**fields, "title": [XSS[0], XSS[1]],
                                                         "employer": [XSS[1], XSS[0]], "start_date": ["", ""],
                                                         "description": list(XSS), "end_date": ["", ""],
                                                         "skills": XSS[1], "summary": XSS[0]})
        assert bad.status_code == 422
        for raw in XSS:
            assert raw not in bad.text
        assert "<img src=x" not in bad.text and "<script>alert" not in bad.text
