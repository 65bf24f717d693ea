"""The pages in a real browser: headless Chromium (the Debian package, driven by Playwright) on the app served by
uvicorn on 127.0.0.1, with its strict CSP in force, mails sent to an SMTP test server, and a database holding the
bundled catalogue, a dozen postings embedded as the pipeline does it, their demand snapshots and profession
neighbours.

- The walk: a new user signs up, follows the e-mailed link, signs in, builds a profile, uploads a CV, corrects
  and imports it, refreshes matches, opens a match's explanation, rates three, downloads a cover letter, reads
  the market page, switches to English, exports and deletes the account. Every page: no console error, no failed request, no unexpected
  answer >= 400, no axe-core violation of impact serious or critical, a screenshot (``test-artifacts/screenshots``,
  or ``TY_SCREENSHOTS_DIR``).
- XSS: markup in every field a user writes and in the BA's posting fields shows as text, no dialog ever opens,
  and the CSP blocks inline script and inline event handlers.
- CSRF: a form on another site that posts to the app is refused and changes nothing.

Without a Chromium the tests are skipped, saying so (:data:`browser_support.NO_BROWSER`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from browser_support import NO_BROWSER, PageWatch, chromium_path, launch_options, live_server, other_site
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright
from web_support import PASSWORD, P, load_catalogue, make_app, new_email, seed_postings

from ty_assets.market.demand import write_demand_snapshot
from ty_testing.cvs import sample
from ty_testing.smtp_server import SmtpTestServer

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NO_BROWSER)

MOBILE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=900)
CLASSIFIER_WAIT_MS = 240_000
SUBJECT_VERIFY = "Bitte bestätigen Sie Ihre E-Mail-Adresse"

# Markup and script a user or the BA could send: each must show as these characters, never run or render.
XSS = {
    "display_name": '<script>alert("name")</script>',
    "skill": '"><img src=x onerror=alert("skill")>',
    "summary": '<svg onload=alert("summary")></svg><b>fett</b>',
    "work_title": '<script>alert("work")</script>Entwickler',
    "work_employer": '<iframe src="javascript:alert(1)"></iframe>GmbH',
    "work_description": "<img src=x onerror=alert('description')>",
    "cv_line": "<script>alert('cv')</script> Kenntnisse: <img src=x onerror=alert('cv-img')>",
    "feedback": '</textarea><script>alert("feedback")</script>',
    "posting_title": '<script>alert("title")</script>Softwareentwickler',
    "posting_employer": '"><img src=x onerror=alert("employer")>',
}
XSS_POSTINGS = [
    P("XS-1", XSS["posting_title"], "43414-102", "Bremen", XSS["posting_employer"], "Bremen",
      "Python <script>alert('description')</script>", external_url="javascript:alert('url')"),
    P("XS-2", "Softwareentwickler <b>Bremen</b>", "43414-102", "Bremen", "Weser IT", "Bremen",
      external_url='https://jobs.example/x"><script>alert("url")</script>'),
]
SEEN = [date(2025, 1, 1) + timedelta(days=n) for n in range(6)]  # the postings' days (web_support.seed_postings)


# ------------------------------------------------------------------ fixtures


@dataclass(frozen=True)
class Site:
    url: str
    db_url: str
    smtp: SmtpTestServer

    def mail_link(self, to: str, path: str, subject: str = SUBJECT_VERIFY) -> str:
        """The link to ``path`` in the mail to ``to`` about ``subject`` (waiting for it: the app sends it after
        answering)."""
        while not (mails := [m for m in self.smtp.messages if m.rcpt_tos == (to,) and m.message["Subject"] == subject]):
            self.smtp.wait_for(len(self.smtp.messages) + 1)  # TimeoutError after 5 s without another mail
        text = mails[-1].message.get_content()
        links = re.findall(rf"{re.escape(self.url + path)}\?token=[A-Za-z0-9_-]+", text)
        assert len(links) == 1, text
        return links[0]


def _seed(url: str) -> None:
    load_catalogue(url)
    seed_postings(url)
    seed_postings(url, XSS_POSTINGS)
    with psycopg.connect(url) as conn:
        now = datetime.now(UTC)
        for rank, (neighbour, score) in enumerate((("43412", 0.93), ("43413", 0.88), ("43104", 0.71)), start=1):
            conn.execute("INSERT INTO profession_similarity (day, kldb_code, neighbour_code, rank, score, basis,"
                         " neighbour_basis, postings, model, computed_at)"
                         " VALUES (%s, '43414', %s, %s, %s, 'postings', 'catalogue', 12, 'local-test', %s)",
                         (SEEN[-1], neighbour, rank, score, now))
        conn.commit()
        for day in SEEN:
            write_demand_snapshot(conn, day)


@pytest.fixture(scope="module")
def browser_db(module_db_url: str) -> str:
    """One database for the module: catalogue, postings (the XSS ones in Bremen), demand and neighbours."""
    _seed(module_db_url)
    return module_db_url


@pytest.fixture(scope="module")
def site(browser_db: str) -> Iterator[Site]:
    """The app at http://127.0.0.1:<port> (debug: the session cookie without Secure), mailing to a test server."""
    with SmtpTestServer() as smtp, live_server(lambda url: make_app(
            browser_db, debug=True, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
            public_url=url)) as url:
        yield Site(url, browser_db, smtp)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(**launch_options(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=site.url, viewport=DESKTOP, locale="de-DE", accept_downloads=True)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


# ------------------------------------------------------------------ helpers


def api_sign_up(context: BrowserContext, site: Site) -> tuple[str, str]:
    """A new verified user signed in through the API in ``context`` (its cookie jar): e-mail and CSRF token."""
    email = new_email()
    registered = context.request.post("/api/v1/auth/register", data={"email": email, "password": PASSWORD})
    assert registered.status == 202, registered.text()
    with psycopg.connect(site.db_url) as conn:
        conn.execute("UPDATE users SET email_verified_at = now() WHERE lower(email) = lower(%s)", (email,))
    login = context.request.post("/api/v1/auth/login", data={"email": email, "password": PASSWORD})
    assert login.status == 200, login.text()
    return email, login.json()["csrf_token"]


def user_id(site: Site, email: str) -> int | None:
    with psycopg.connect(site.db_url) as conn:
        row = conn.execute("SELECT id FROM users WHERE lower(email) = lower(%s)", (email,)).fetchone()
    return row[0] if row else None


def no_markup_ran(page: Page) -> None:
    """Nothing of the planted markup became an element: no script with alert, no img src=x, no iframe, no svg
    with onload, no element with an on* attribute."""
    found = page.evaluate("""() => ({
        scripts: [...document.scripts].filter(s => s.textContent.includes('alert')).length,
        images: document.querySelectorAll('img[src="x"]').length,
        frames: document.querySelectorAll('iframe').length,
        handlers: [...document.querySelectorAll('*')].filter(
            e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
        bold: [...document.querySelectorAll('b')].filter(b => b.textContent === 'fett' || b.textContent === 'Bremen').length,
        jsLinks: [...document.querySelectorAll('a[href]')].filter(a => a.href.trim().toLowerCase().startsWith('javascript:')).length,
    })""")
    assert found == {"scripts": 0, "images": 0, "frames": 0, "handlers": 0, "bold": 0, "jsLinks": 0}, (page.url, found)


def forms_carry_the_token(page: Page) -> None:
    """Every POST form of a signed-in page sends the session's CSRF token; htmx sends it as a header."""
    token = page.evaluate("""() => JSON.parse(
        document.querySelector('body > .page').getAttribute('hx-headers') || '{}')['X-CSRF-Token'] || ''""")
    assert token, f"{page.url}: no CSRF header for htmx"
    forms = page.evaluate("""() => [...document.querySelectorAll('form')]
        .filter(f => (f.getAttribute('method') || 'get').toLowerCase() === 'post')
        .map(f => ({action: f.getAttribute('action'), token: (f.querySelector('input[name=csrf_token]') || {}).value || ''}))""")
    missing = [f["action"] for f in forms if f["token"] != token]
    assert not missing, f"{page.url}: POST forms without the CSRF token: {missing}"


def fits_the_width(page: Page) -> None:
    """Nothing wider than the viewport (usable at 360-390 px: no sideways scrolling of the page)."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url}: the page is {widths[0]} px wide in a {widths[1]} px viewport"


# ------------------------------------------------------------------ the walk


def test_walk_from_sign_up_to_deleting_the_account(context: BrowserContext, site: Site, tmp_path: Path):
    page = context.new_page()
    watch = PageWatch(page)
    email = new_email()

    # A phone-sized screen for signing up and in.
    page.set_viewport_size(MOBILE)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    fits_the_width(page)
    watch.check("start")

    page.get_by_role("navigation").get_by_role("link", name="Registrieren").click()
    expect(page).to_have_url(re.compile(r"/register$"))
    fits_the_width(page)
    watch.check("register")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Konto anlegen").click()
    expect(page.get_by_role("status")).to_contain_text("E-Mail")
    watch.check("register-sent")

    page.goto(site.mail_link(email, "/verify-email"))
    expect(page.get_by_role("heading", level=1)).to_have_text("E-Mail-Adresse bestätigen")
    fits_the_width(page)
    watch.check("verify-email")
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Adresse bestätigen").click()
    expect(page).to_have_url(re.compile(r"/login\?done=verified"))
    expect(page.get_by_role("status")).to_contain_text("bestätigt")
    watch.check("login")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort", exact=True).fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(re.compile(r"/matches$"))
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
    fits_the_width(page)
    forms_carry_the_token(page)
    watch.check("signed-in")

    # The profile: a desired profession found as you type, Länder, levels.
    page.get_by_role("navigation").get_by_role("link", name="Profil").click()
    expect(page).to_have_url(re.compile(r"/profile$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Profil")
    fits_the_width(page)
    forms_carry_the_token(page)
    watch.check("profile-empty")
    page.set_viewport_size(DESKTOP)
    page.get_by_label("Beruf suchen").press_sequentially("Softwareentwickl", delay=30)
    add = page.get_by_role("button", name="Hinzufügen Softwareentwickler/in", exact=True)  # found as you type
    # The first search may wait for the classifier's lexical model: trained once per test run (its cache).
    expect(add).to_be_visible(timeout=CLASSIFIER_WAIT_MS)
    add.click()
    expect(page.get_by_role("status")).to_have_text("Der Beruf wurde hinzugefügt.")
    expect(page.locator("#professions .list")).to_contain_text("Softwareentwickler/in")
    forms_carry_the_token(page)
    watch.check("profile-profession")
    page.get_by_role("checkbox", name="Berlin", exact=True).check()
    page.get_by_role("checkbox", name="Bayern", exact=True).check()
    page.get_by_role("checkbox", name=re.compile("^Fachkraft")).check()
    page.get_by_role("checkbox", name=re.compile("^Experte")).check()
    page.get_by_label("Kenntnisse").fill("Python\nSQL")
    page.get_by_role("button", name="Profil speichern").click()
    expect(page.get_by_role("status")).to_have_text("Ihr Profil wurde gespeichert.")
    expect(page.get_by_role("checkbox", name="Bayern", exact=True)).to_be_checked()
    forms_carry_the_token(page)
    watch.check("profile")

    # A CV: uploaded, one entry corrected, imported.
    cv = sample("it")
    cv_file = tmp_path / "lebenslauf.pdf"
    cv_file.write_bytes(cv.render("pdf"))
    page.get_by_role("navigation").get_by_role("link", name="Lebenslauf").click()
    expect(page).to_have_url(re.compile(r"/cv$"))
    forms_carry_the_token(page)
    watch.check("cv")
    page.get_by_label("Ihr Lebenslauf (PDF, Word oder Text)").set_input_files(cv_file)
    page.get_by_role("button", name="Hochladen und lesen").click()
    expect(page).to_have_url(re.compile(r"/cv/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Lebenslauf prüfen")
    first_title = page.get_by_label("Berufsbezeichnung").first
    expect(first_title).to_have_value(cv.expected_jobs()[0][0])
    forms_carry_the_token(page)
    watch.check("cv-draft")
    corrected = cv.expected_jobs()[0][0] + " (Backend)"
    first_title.fill(corrected)
    page.get_by_role("button", name="In mein Profil übernehmen").click()
    expect(page).to_have_url(re.compile(r"/profile\?done=imported"))
    expect(page.get_by_role("status")).to_have_text("Ihr Lebenslauf wurde in Ihr Profil übernommen.")
    expect(page.locator("#work-history")).to_contain_text(corrected)
    watch.check("cv-imported")

    # Matches: refreshed, three rated in the queue (its card is swapped in place).
    page.get_by_role("navigation").get_by_role("link", name="Treffer").click()
    expect(page).to_have_url(re.compile(r"/matches$"))
    page.get_by_role("button", name="Treffer aktualisieren").first.click()
    expect(page.get_by_role("status")).to_have_text("Ihre Treffer sind aktualisiert.")
    forms_carry_the_token(page)
    card = page.locator("#match-card")
    # "Warum passt das?": htmx loads the match's explanation into the card, in place (the page stays).
    card.get_by_role("link", name="Warum passt das?").click()
    expect(card.locator(".explanation")).to_contain_text("Aus Ihrem Profil und der Anzeige zusammengestellt.")
    expect(card.locator(".explanation li").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"/matches\?done=refreshed$"))  # swapped in place: no navigation
    watch.check("matches")
    titles = []
    for n, rating in enumerate(("4", "3", "5"), start=1):
        expect(card.get_by_role("heading", level=2)).to_have_text("Ihr nächster Treffer")
        titles.append(card.get_by_role("heading", level=3).inner_text())
        card.get_by_role("radio", name=re.compile(f"^{rating}")).check()
        if n == 1:
            card.get_by_label("Rückmeldung (freiwillig)").fill("Passt gut, Python & SQL.")
        card.get_by_role("button", name="Bewertung speichern").click()
        expect(card.get_by_role("status")).to_have_text("Ihre Bewertung ist gespeichert.")
        forms_carry_the_token(page)
        watch.check(f"rated-{n}")
    assert len(set(titles)) == 3, titles
    page.reload()
    rated = page.get_by_role("region", name="Bewertete Treffer").get_by_role("link")
    expect(rated.filter(has_text=titles[0])).to_have_count(1)

    # The first rated match, its cover letter, downloaded as .docx.
    rated.filter(has_text=titles[0]).click()
    expect(page).to_have_url(re.compile(r"/matches/\d+$"))
    forms_carry_the_token(page)
    watch.check("match")
    page.get_by_role("link", name="Anschreiben für diese Stelle").click()
    expect(page).to_have_url(re.compile(r"/matches/\d+/cover-letter$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(titles[0])
    watch.check("cover-letter")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Als Word-Datei herunterladen (.docx)").click()
    letter = download_info.value
    assert letter.suggested_filename.endswith(".docx"), letter.suggested_filename
    assert Path(letter.path()).read_bytes()[:2] == b"PK"  # a zip: the Word file
    assert watch.take_problems() == []

    # The market.
    page.get_by_role("navigation").get_by_role("link", name="Arbeitsmarkt").click()
    expect(page).to_have_url(re.compile(r"/market"))
    expect(page.locator("main svg").first).to_be_visible()
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()  # the frame of a signed-in user
    watch.check("market")

    # English, from the footer's language switch.
    page.get_by_label("Sprache").select_option("en")
    with page.expect_response(lambda r: r.url.endswith("/language") and r.request.method == "POST"):
        page.get_by_role("button", name="Wechseln").click()
    expect(page.get_by_role("link", name="Skip to content")).to_be_attached()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("navigation").get_by_role("link", name="Market")).to_be_visible()
    watch.check("market-en")

    # The account (in English now): the export, then deleting it with the password.
    page.get_by_role("navigation").get_by_role("link", name="Account").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    forms_carry_the_token(page)
    watch.check("account")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download your data").click()
    export = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert export["account"]["email"] == email
    assert set(export["profile"]["states"]) == {"Berlin", "Bayern"}
    assert export["profile"]["desired_berufenet_ids"] == ["43414-102"]
    assert export["work_history"], "the CV's entries were imported"
    assert user_id(site, email) is not None
    page.get_by_label("Your password", exact=True).fill(PASSWORD)
    watch.confirm()  # the form asks before it deletes (data-confirm)
    page.get_by_role("button", name="Delete account").click()
    expect(page.get_by_role("status")).to_contain_text("deleted")
    expect(page.get_by_role("navigation").get_by_role("link", name="Sign in")).to_be_visible()
    watch.check("deleted")
    assert user_id(site, email) is None
    assert watch.dialogs == [] and watch.confirms == 0


# ------------------------------------------------------------------ XSS


def test_markup_from_users_and_the_ba_shows_as_text_and_the_csp_blocks_inline_script(context: BrowserContext,
                                                                                    site: Site):
    email, csrf = api_sign_up(context, site)
    api = context.request
    headers = {"X-CSRF-Token": csrf}
    profile = {"display_name": XSS["display_name"], "desired_berufenet_ids": ["43414-102"], "states": ["Bremen"],
               "skills": [XSS["skill"], "Python"], "summary": XSS["summary"]}
    assert api.put("/api/v1/profiles/me", data=profile, headers=headers).status == 200
    work = {"title": XSS["work_title"], "employer": XSS["work_employer"], "start_date": "2020-01-01",
            "description": XSS["work_description"]}
    # its title is classified: the first classification may wait for the lexical model the run is still training
    assert api.post("/api/v1/profiles/me/work-history", data=work, headers=headers,
                    timeout=CLASSIFIER_WAIT_MS).status == 201
    cv_text = f"Lebenslauf\n\nKenntnisse\n{XSS['cv_line']}\n".encode()
    upload = api.post("/api/v1/profiles/me/cv", headers=headers,
                      multipart={"file": {"name": "cv.txt", "mimeType": "text/plain", "buffer": cv_text}})
    assert upload.status == 201, upload.text()
    draft_id = upload.json()["id"]
    assert api.post("/api/v1/matches/refresh", headers=headers).status == 200
    matches = api.get("/api/v1/matches?limit=100").json()["items"]
    by_refnr = {m["posting"]["refnr"]: m["id"] for m in matches}
    assert {"XS-1", "XS-2"} <= set(by_refnr), by_refnr
    rated = api.put(f"/api/v1/matches/{by_refnr['XS-1']}/rate", data={"rating": 4, "feedback": XSS["feedback"]},
                    headers=headers)
    assert rated.status == 200, rated.text()

    page = context.new_page()
    watch = PageWatch(page, folder=None)
    shown = {
        "/profile": [XSS["display_name"], XSS["skill"], XSS["summary"], XSS["work_title"], XSS["work_employer"]],
        "/cv": [],
        f"/cv/{draft_id}": ["<script>alert('cv')</script>"],
        "/matches": [XSS["posting_title"], XSS["posting_employer"]],
        f"/matches/{by_refnr['XS-1']}": [XSS["posting_title"], XSS["posting_employer"], XSS["feedback"]],
        f"/matches/{by_refnr['XS-2']}": ["Softwareentwickler <b>Bremen</b>"],
        f"/matches/{by_refnr['XS-1']}/cover-letter": [],
        f"/matches/{by_refnr['XS-1']}/explanation": [XSS["posting_title"]],
        "/postings/XS-1": [XSS["posting_title"], XSS["posting_employer"]],
        "/postings/XS-2": ["Softwareentwickler <b>Bremen</b>"],
        "/account": [],
        "/market": [],
    }
    for path, texts in shown.items():
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        for text in texts:
            expect(page.locator("main")).to_contain_text(text)
        no_markup_ran(page)
        problems = watch.take_problems()
        assert not problems, (path, problems)
    assert watch.dialogs == []

    # The CSP blocks inline script and inline event handlers, as it would markup that slipped through.
    page.goto("/profile")
    watch.allowed_console.append(re.compile("Content Security Policy"))
    blocked = page.evaluate("""() => new Promise(resolve => {
        const seen = [];
        document.addEventListener('securitypolicyviolation', e => seen.push(e.violatedDirective));
        window.__inline = false; window.__handler = false;
        const script = document.createElement('script');
        script.textContent = 'window.__inline = true';
        document.body.appendChild(script);
        const holder = document.createElement('div');
        holder.innerHTML = '<img alt="" src="data:," onerror="window.__handler = true">';
        document.body.appendChild(holder);
        const done = () => resolve({inline: window.__inline, handler: window.__handler, seen: seen.sort()});
        const wait = (n) => seen.length >= 2 || n === 0 ? done() : setTimeout(() => wait(n - 1), 50);
        wait(40);
    })""")
    assert blocked == {"inline": False, "handler": False, "seen": ["script-src-attr", "script-src-elem"]}, blocked
    assert watch.dialogs == []


# ------------------------------------------------------------------ CSRF


ATTACK = """<!doctype html><html lang="en"><head><title>Win a prize</title></head><body>
<form method="post" action="{action}"><input type="hidden" name="display_name" value="Evil">
<input type="hidden" name="summary" value="pwned"><button type="submit">Win</button></form>
<script>document.forms[0].submit()</script></body></html>"""


def test_a_form_on_another_site_that_posts_to_the_app_is_refused(context: BrowserContext, site: Site):
    email, csrf = api_sign_up(context, site)
    api = context.request
    before = api.get("/api/v1/profiles/me").json()
    page = context.new_page()
    target = f"{site.url}/profile"
    # Another site (127.0.0.2): the browser sends no session cookie (SameSite=Lax), and its Sec-Fetch-Site says
    # cross-site; another origin of the same site (another port of 127.0.0.1): the cookie comes, but no token.
    for host in ("127.0.0.2", "127.0.0.1"):
        with other_site(ATTACK.format(action=target), host=host) as attacker:
            with page.expect_response(lambda r: r.url.startswith(target) and r.request.method == "POST") as answer:
                page.goto(attacker)
            response = answer.value
            sent = response.request.all_headers()
            if host == "127.0.0.2":
                assert sent.get("sec-fetch-site") == "cross-site"
                assert "ty_session" not in sent.get("cookie", "")
                # An anonymous post, then: sent to sign in, nothing done.
                assert (response.status, response.headers.get("location")) == (303, "/login?next=/profile")
            else:
                assert sent.get("sec-fetch-site") == "same-site" and "ty_session" in sent.get("cookie", "")
                assert response.status == 403, response.status
    after = api.get("/api/v1/profiles/me").json()
    assert after == before
    assert after["display_name"] != "Evil"
