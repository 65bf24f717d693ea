"""The profile page through the real app: the profile form, desired professions (search, add, remove), the work
history (add, edit, delete), German by default, CSRF, sign-in, other users' entries, and markup shown as text."""

from __future__ import annotations

import re

import psycopg
from web_support import load_catalogue, running_app, sign_up

XSS = ('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>')
ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;")


def form_post(user, url, data, **kwargs):
    """A browser's form post: the CSRF token as the form field, no header."""
    return user.client.post(url, data={"csrf_token": user.csrf, **data}, follow_redirects=False, **kwargs)


def assert_escaped(html: str) -> None:
    for raw in XSS:
        assert raw not in html
    assert "<script>alert" not in html and "<img src=x" not in html


def profile_row(db_url, user_id):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT display_name, desired_berufenet_ids, states, levels, skills, summary"
                            " FROM profiles WHERE user_id = %s", (user_id,)).fetchone()


def test_the_profile_page_in_german_and_english_and_for_the_anonymous(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        page = user.client.get("/profile")
        assert page.status_code == 200 and page.headers["content-language"] == "de"
        assert "Ihr Profil" in page.text and "Berufserfahrung" in page.text and "Ausland" in page.text
        assert "Fachkraft" in page.text and "Spezialist" in page.text
        assert 'hx-get="/profile/professions"' in page.text
        assert 'hx-trigger="input changed delay:300ms, search"' in page.text
        assert page.text.count("<h1") == 1
        assert "content-security-policy" in page.headers
        user.client.cookies.set("ty_lang", "en")
        english = user.client.get("/profile")
        assert "Your profile" in english.text and "Work history" in english.text and "Abroad" in english.text
        assert "Skilled worker" in english.text
        anonymous = client.get("/profile?q=Koch", follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login?next=/profile")
        assert client.post("/profile", data={}, follow_redirects=False).headers["location"] == "/login?next=/profile"


def test_saving_the_profile_form_stores_it_and_redirects(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        saved = form_post(user, "/profile", {
            "display_name": "  Alex ", "states": ["Berlin", "Ausland"], "levels": ["2", "4"],
            "skills": "Python, SQL\nGabelstapler\n\n", "summary": "Entwicklerin."})
        assert saved.status_code == 303 and saved.headers["location"] == "/profile?done=saved"
        assert profile_row(db_url, user.id) == ("Alex", [], ["Berlin", "Ausland"], [2, 4],
                                                ["Python", "SQL", "Gabelstapler"], "Entwicklerin.")
        page = user.client.get("/profile?done=saved")
        assert "Ihr Profil wurde gespeichert." in page.text and "Hallo, Alex." in page.text
        assert re.search(r'value="Berlin" checked', page.text) and 'value="2" checked' in page.text
        assert "Gabelstapler" in page.text
        # A key the page does not know shows nothing.
        assert "role=\"status\"" not in user.client.get("/profile?done=%3Cb%3Ehi").text.split("<main")[1].split(
            "profession-candidates")[0]


def test_invalid_profile_input_is_shown_next_to_the_field(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        bad = form_post(user, "/profile", {"display_name": "x" * 101, "states": ["Bavaria"], "levels": ["5"],
                                           "skills": "a" * 101})
        assert bad.status_code == 422
        assert "Höchstens 100 Zeichen." in bad.text
        assert "Bitte wählen Sie aus der Liste." in bad.text
        assert 'aria-describedby="f-display_name-error' in bad.text and 'id="states-error"' in bad.text
        assert profile_row(db_url, user.id) is None
        control = form_post(user, "/profile", {"summary": "bad\x00text"})
        assert control.status_code == 422 and "Steuerzeichen" in control.text


def test_csrf_is_required_on_every_form(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        for url in ("/profile", "/profile/professions", "/profile/work-history", "/profile/work-history/1/delete"):
            missing = user.client.post(url, data={"display_name": "x"}, follow_redirects=False)
            assert missing.status_code == 403, url
            cross = form_post(user, url, {"display_name": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
            assert cross.status_code == 403, url
        assert profile_row(db_url, user.id) is None


def test_desired_professions_are_searched_added_and_removed(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user = sign_up(client)
        page = user.client.get("/profile", params={"q": "Softwareentwicklerin"})
        assert page.status_code == 200 and "Softwareentwickler/in" in page.text
        assert 'name="berufenet_id" value="43414-102"' in page.text
        fragment = user.client.get("/profile/professions", params={"q": "Softwareentwicklerin"},
                                   headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text
        assert 'value="43414-102"' in fragment.text and 'name="csrf_token"' in fragment.text
        plain = user.client.get("/profile/professions", params={"q": "Koch"}, follow_redirects=False)
        assert plain.status_code == 303 and plain.headers["location"].startswith("/profile?q=Koch")
        added = form_post(user, "/profile/professions", {"berufenet_id": "43414-102"})
        assert added.status_code == 303 and added.headers["location"].startswith("/profile?done=profession-added")
        form_post(user, "/profile/professions", {"berufenet_id": "51312-111"})
        assert profile_row(db_url, user.id)[1] == ["43414-102", "51312-111"]
        page = user.client.get("/profile")
        assert "Softwareentwickler/in" in page.text and "Fachkraft - Lagerlogistik" in page.text
        # Saving the details keeps the professions.
        assert form_post(user, "/profile", {"states": ["Berlin"]}).status_code == 303
        assert profile_row(db_url, user.id)[1] == ["43414-102", "51312-111"]
        unknown = form_post(user, "/profile/professions", {"berufenet_id": "99999-999"})
        assert unknown.status_code == 422 and "kein Beruf des Katalogs" in unknown.text
        malformed = form_post(user, "/profile/professions", {"berufenet_id": "<script>"})
        assert malformed.status_code == 422
        removed = form_post(user, "/profile/professions/43414-102/delete", {})
        assert removed.status_code == 303
        assert profile_row(db_url, user.id)[1] == ["51312-111"]
        blank = user.client.get("/profile/professions", params={"q": "(m/w/d)"}, headers={"HX-Request": "true"})
        assert blank.status_code == 200 and 'class="error"' in blank.text


def test_work_history_is_added_edited_and_deleted(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        other = sign_up(client)
        added = form_post(user, "/profile/work-history", {
            "title": "Lagerist", "employer": "Lager GmbH", "start_date": "2018-08-01", "end_date": "2021-06-30",
            "description": "Wareneingang"})
        assert added.status_code == 303 and added.headers["location"].startswith("/profile?done=entry-added")
        with psycopg.connect(db_url) as conn:
            entry_id, label_status = conn.execute("SELECT id, label_status FROM work_history WHERE user_id = %s",
                                                  (user.id,)).fetchone()
        page = user.client.get("/profile?done=entry-added")
        assert "Die Position wurde hinzugefügt." in page.text
        assert "Lagerist" in page.text and "Lager GmbH" in page.text and "01.08.2018" in page.text
        assert label_status == "unclassified" and "nicht zugeordnet" in page.text
        edit = user.client.get(f"/profile/work-history/{entry_id}")
        assert edit.status_code == 200 and 'value="2018-08-01"' in edit.text and "Wareneingang" in edit.text
        assert other.client.get(f"/profile/work-history/{entry_id}").status_code == 404
        assert form_post(other, f"/profile/work-history/{entry_id}", {"title": "x", "start_date": "2020-01-01"}
                         ).status_code == 404
        assert form_post(other, f"/profile/work-history/{entry_id}/delete", {}).status_code == 404
        assert user.client.get("/profile/work-history/999999999").status_code == 404
        saved = form_post(user, f"/profile/work-history/{entry_id}", {
            "title": "Lagerleiter", "employer": "", "start_date": "2018-08-01", "end_date": ""})
        assert saved.status_code == 303
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT title, employer, end_date FROM work_history WHERE id = %s",
                                (entry_id,)).fetchone() == ("Lagerleiter", None, None)
        assert "heute" in user.client.get("/profile").text
        deleted = form_post(user, f"/profile/work-history/{entry_id}/delete", {})
        assert deleted.status_code == 303 and deleted.headers["location"].startswith("/profile?done=entry-deleted")
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM work_history WHERE user_id = %s", (user.id,)).fetchone()[0] == 0


def test_invalid_work_history_is_shown_next_to_the_field(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        bad = form_post(user, "/profile/work-history", {"title": " ", "start_date": "2020-05-01",
                                                        "end_date": "2019-01-01"})
        assert bad.status_code == 422
        assert "Bitte füllen Sie dieses Feld aus." in bad.text and "Das Ende liegt vor dem Beginn." in bad.text
        assert 'aria-describedby="f-title-error' in bad.text
        no_date = form_post(user, "/profile/work-history", {"title": "Koch", "start_date": ""})
        assert no_date.status_code == 422 and 'id="f-start_date-error"' in no_date.text
        early = form_post(user, "/profile/work-history", {"title": "Koch", "start_date": "1800-01-01"})
        assert early.status_code == 422 and "zwischen 1900 und 2100" in early.text
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM work_history WHERE user_id = %s", (user.id,)).fetchone()[0] == 0


def test_markup_in_every_field_is_shown_as_text(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        for raw in XSS:
            assert form_post(user, "/profile", {"display_name": raw[:100], "skills": raw, "summary": raw}
                             ).status_code == 303
            page = user.client.get("/profile")
            assert page.status_code == 200
            assert_escaped(page.text)
            assert form_post(user, "/profile/work-history", {"title": raw, "employer": raw, "description": raw,
                                                             "start_date": "2020-01-01"}).status_code == 303
            page = user.client.get("/profile")
            assert_escaped(page.text)
            with psycopg.connect(db_url) as conn:
                entry_id = conn.execute("SELECT max(id) FROM work_history WHERE user_id = %s",
                                        (user.id,)).fetchone()[0]
            edit = user.client.get(f"/profile/work-history/{entry_id}")
            assert_escaped(edit.text)
            invalid = form_post(user, "/profile/work-history", {"title": raw, "employer": raw, "start_date": ""})
            assert invalid.status_code == 422
            assert_escaped(invalid.text)
        page = user.client.get("/profile", params={"q": XSS[1]})
        assert_escaped(page.text)
        assert any(escaped in page.text for escaped in ESCAPED) or "&#34;&gt;" in page.text
