"""Support for the browser tests (tests/ty_web/test_browser.py): the Debian ``chromium`` driven by Playwright, the
app served by uvicorn on 127.0.0.1 in a thread, another site to post from, and the checks every page of a walk
passes.

- :func:`chromium_path`: the browser, never a download: ``TY_BROWSER`` (a path or a name on the PATH), else
  ``chromium`` or ``chromium-browser`` on the PATH; None when there is none (the tests are skipped with
  :data:`NO_BROWSER`).
- :func:`live_server`: an ASGI app made for its own address (``public_url`` is where the e-mailed links point),
  served by uvicorn on a free port until the block ends.
- :func:`other_site`: a one-page HTTP server on another address (another origin, or another site: 127.0.0.2).
- :class:`PageWatch`: listens to a page (console errors, uncaught errors, failed requests, answers >= 400, any
  dialog) and :meth:`PageWatch.check` runs axe-core (vendored, injected with ``page.evaluate``: the page's CSP
  stays in force) and saves a full-page screenshot ``NN-name.png`` in :func:`screenshot_dir`.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import ConsoleMessage, Dialog, Page, Request, Response

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "ty_testing" / "vendor" / "axe-core" / "axe.min.js"
BROWSER_NAMES = ("chromium", "chromium-browser")
NO_BROWSER = "no Chromium: apt-get install chromium, or set TY_BROWSER"
SCREENSHOTS_ENV = "TY_SCREENSHOTS_DIR"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

# What the CSP blocked, in detail (the console's own message names no element): logged by every page.
CSP_PREFIX = "CSP violation:"
CSP_REPORTER = """document.addEventListener('securitypolicyviolation', (e) => {
  const target = e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 300) : String(e.target);
  console.info('CSP_PREFIX ' + JSON.stringify({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample,
    source: e.sourceFile, line: e.lineNumber, column: e.columnNumber, element: target}));
}, true);""".replace("CSP_PREFIX", CSP_PREFIX)


def chromium_path() -> str | None:
    """The Chromium to drive: ``TY_BROWSER`` (a path, or a name on the PATH), else the Debian package's."""
    chosen = os.environ.get("TY_BROWSER")
    if chosen:
        return chosen if Path(chosen).is_file() else shutil.which(chosen)
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_options(executable: str) -> dict[str, Any]:
    """``browser_type.launch`` keywords: headless; no sandbox for root (Chromium refuses to start otherwise)."""
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return {"executable_path": executable, "headless": True, "args": args}


def screenshot_dir() -> Path:
    """Where the walk's screenshots go: ``TY_SCREENSHOTS_DIR``, else ``test-artifacts/screenshots`` (gitignored)."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or ROOT / "test-artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ------------------------------------------------------------------ servers


class _Server(uvicorn.Server):
    """uvicorn that says when it listens (or gave up)."""

    def __init__(self, config: uvicorn.Config):
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


def _bound(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))  # the system picks a free port: no race
    return sock


@contextmanager
def live_server(make_app: Callable[[str], Any], host: str = "127.0.0.1") -> Iterator[str]:
    """``make_app(base_url)`` served by uvicorn (with its lifespan) at ``base_url`` = ``http://host:port``."""
    sock = _bound(host)
    base_url = f"http://{host}:{sock.getsockname()[1]}"
    try:
        config = uvicorn.Config(make_app(base_url), lifespan="on", log_level="warning", access_log=False,
                                ws="none", timeout_graceful_shutdown=5)
        server = _Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-app", daemon=True)
        thread.start()
        if not server.ready.wait(60) or not server.started:
            server.should_exit = True
            thread.join(10)
            raise RuntimeError(f"the app did not start at {base_url}")
        try:
            yield base_url
        finally:
            server.should_exit = True
            thread.join(15)
    finally:
        sock.close()


@contextmanager
def other_site(html: str, host: str = "127.0.0.2") -> Iterator[str]:
    """A site at ``http://host:port/`` whose every GET answers ``html`` (no CSP: it is someone else's site)."""
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="other-site", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ------------------------------------------------------------------ what every page must pass


# Every checked page must fit a phone this narrow (issue 17: usable at 360 px).
NARROW = 360


@dataclass
class PageWatch:
    """Everything that went wrong on a page since the last :meth:`check`; the checks of a page.

    An answer >= 400 is a problem unless the step announced it (:meth:`allow`); so is a dialog (dismissed), but
    for the confirmation a step announced (:meth:`confirm`: ``data-confirm`` forms ask with ``window.confirm``):
    no page opens any other, so a dialog is script that ran where none should. ``folder`` None: no screenshots."""

    page: Page
    folder: Path | None = field(default_factory=screenshot_dir)
    shots: int = 0
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allowed: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)
    allowed_console: list[re.Pattern[str]] = field(default_factory=list)
    confirms: int = 0
    axe_source: str = field(default_factory=lambda: AXE.read_text(encoding="utf-8"))

    def fits(self, width: int) -> None:
        """At ``width`` px (the page laid out again at that width, then back), nothing is wider than the viewport:
        no sideways scrolling on a small phone."""
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": width, "height": size["height"] if size else 800})
        try:
            wide = self.page.evaluate("() => document.documentElement.scrollWidth")
            # the outermost elements that reach past the screen's edge, to say what to fix
            culprits = self.page.evaluate("""(width) => [...document.body.querySelectorAll('*')]
                .filter(e => e.getBoundingClientRect().right > width + 1
                             && !(e.parentElement && e.parentElement.getBoundingClientRect().right > width + 1))
                .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                                      + (e.className ? '.' + String(e.className).split(' ').join('.') : ''))""",
                                          width) if wide > width else []
        finally:
            if size:
                self.page.set_viewport_size(size)
        if wide > width:
            self.problems.append(f"the page is {wide} px wide at a {width} px wide screen: {culprits}")

    def __post_init__(self) -> None:
        self.page.add_init_script(CSP_REPORTER)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught error: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._response)
        self.page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "info" and message.text.startswith(CSP_PREFIX):
            if not any(p.search("Content Security Policy") for p in self.allowed_console):
                self.problems.append(message.text)
            return
        if message.type == "error" and not any(p.search(message.text) for p in self.allowed_console):
            self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _failed(self, request: Request) -> None:
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status < 400:
            return
        for i, (status, pattern) in enumerate(self.allowed):
            if status == response.status and pattern.search(response.url):
                del self.allowed[i]
                return
        self.problems.append(f"answer {response.status}: {response.request.method} {response.url}")

    def _dialog(self, dialog: Dialog) -> None:
        if dialog.type == "confirm" and self.confirms > 0:
            self.confirms -= 1
            dialog.accept()
            return
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        self.problems.append(f"a dialog opened ({dialog.type}: {dialog.message!r})")
        dialog.dismiss()

    def allow(self, status: int, url_pattern: str) -> None:
        """The next answer with ``status`` whose URL matches ``url_pattern`` is expected (once)."""
        self.allowed.append((status, re.compile(url_pattern)))

    def confirm(self) -> None:
        """The next ``window.confirm`` is expected: it is accepted."""
        self.confirms += 1

    def take_problems(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations on the page as it is now (every impact)."""
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            self.page.evaluate(self.axe_source)
        # axe sets and resets inline styles while it measures, leaving ``style=""`` behind; htmx would copy that
        # attribute onto the next page's element of the same id, which the CSP blocks: such leftovers are removed.
        return self.page.evaluate(
            """async () => {
                const styled = new Set(document.querySelectorAll('[style]'));
                const result = await axe.run(document, {resultTypes: ['violations']});
                for (const e of document.querySelectorAll('[style]')) {
                    if (!styled.has(e)) e.removeAttribute('style');
                }
                return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
            }""")

    def screenshot(self, name: str) -> Path | None:
        if self.folder is None:
            return None
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True, caret="initial")  # "hide" leaves style="" behind
        return path

    def check(self, name: str) -> Path | None:
        """The page as it is now: it fits a 360 px screen (:meth:`fits`), a screenshot ``NN-name.png``, then no
        problem since the last check and no axe violation of impact serious or critical (all of them printed)."""
        self.page.wait_for_load_state("load")
        self.fits(NARROW)
        path = self.screenshot(name)
        violations = self.axe()
        for v in violations:
            print(f"axe {name} {self.page.url}: {v['impact']} {v['id']}: {v['help']}", *v["nodes"], sep="\n    ")
        blocking = [f"axe {v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in violations
                    if v["impact"] in BLOCKING_IMPACTS]
        problems = self.take_problems() + blocking
        assert not problems, f"page {name} ({self.page.url}):\n" + "\n".join(problems)
        return path
