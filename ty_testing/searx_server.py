"""A local SearXNG for tests and benchmarks: its JSON API on 127.0.0.1, with realistic snippets and its faults.

``GET /search?q=...&format=json`` answers as SearXNG does (``query``, ``number_of_results``, ``results`` with
``url``, ``title``, ``content``, ``engine``, ``engines``, ``positions``, ``score``, ``category``, ...,
``answers``, ``corrections``, ``infoboxes``, ``suggestions``, ``unresponsive_engines``); ``format`` other than
json (or none) gets an HTML page, as the real one serves its web UI.

What a query finds. The label cascade asks ``"{title} Beruf Stellenbeschreibung"``; the server takes the title
part and decides which KldB code the title "really" is: the one ``truth`` gives for it (a benchmark knows its
sets' codes), else the catalogue title sharing the most words with it (what a word-matching engine finds; none:
nothing relevant). The answer is then a seeded mix (:class:`SnippetMix`, the same for a query whatever the order
of queries) of result kinds built from the catalogue (``ty_resources/data/kldb2010_v2020.csv``):

- ``berufenet``: the BERUFENET page of a catalogue title of that code ("{name} – Beruf – BERUFENET", the code's
  activities as text): names the answer;
- ``listing``: job-board listings of catalogue titles of that code ("{male form} (m/w/d) Jobs in {city}"): name
  the answer in another form (60 %), or a sibling title of the same code;
- ``group``: a Wikipedia-like page of the code's 3-digit group (its title and activities): right field, no title;
- ``neighbour``: the BERUFENET page of a title of *another* code of the same 3-digit group: misleading, and
  sometimes ranked first;
- ``spam``: generic job-board advertising naming no occupation;
- and, with share ``nothing_relevant``, an answer without any page of the code: only neighbours and spam.

The default shares (``SnippetMix()``): nothing relevant 15 %; otherwise berufenet 55 %, 1-2 listings 65 %, group
50 %, a neighbour 55 % (ranked above the right pages 35 % of those times), 1-3 spam results always. So about half
the answers name the answer in two or more snippets, a third name it once or only its field, and one in six has
nothing right at all, while one in two carries a wrong title of the same field.

Faults (:class:`SearxFault`, on the next ``count`` requests, optionally only for queries containing ``query``):
``stall`` (no answer for ``stall_s``: past the client's timeout), ``429`` (the limiter's "Too Many Requests",
with ``Retry-After`` when given), ``403`` (the HTML "Forbidden" page of an instance without format=json; every
request gets it with ``json_enabled=False``), ``500``, ``empty`` (no results, engines unresponsive), ``html``
(an HTML page where JSON was expected, status 200) and ``truncated`` (JSON cut off in the middle); and hostile or
broken transports: ``deep`` (JSON nested 300,000 deep), ``cut`` (the connection closed before the Content-Length
announced is sent), ``drip`` (a valid answer one byte every ``drip_s``: each read is quick, the whole never is),
``gzip`` (a body that claims gzip and is not) and ``redirect`` (a 302 to the server's own ``/internal`` page,
which serves a secret as text). ``answers``
overrides the results of a query outright (a test's own URLs, e.g. a ``javascript:`` one).
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from ty_resources.kldb import Catalogue, KldbCode, Profession, read_kldb
from ty_resources.titles import normalize_title, reading_key
from ty_testing.http import LoopbackServer, send_json, send_raw

QUERY_SUFFIX = " Beruf Stellenbeschreibung"
FaultKind = Literal["stall", "429", "403", "500", "empty", "html", "truncated", "deep", "cut", "drip", "gzip",
                    "redirect"]
INTERNAL_SECRET = b"internal-token=s3cr3t-abcdef-0123456789"
CITIES = ("Berlin", "Hamburg", "München", "Köln", "Leipzig", "Dortmund", "Bremen", "Nürnberg", "Kassel", "Ulm")
BOARDS = (("stepstone", "https://www.stepstone.de/jobs/{slug}/in-{city}"),
          ("indeed", "https://de.indeed.com/q-{slug}-l-{city}-jobs.html"),
          ("jobboerse", "https://www.arbeitsagentur.de/jobsuche/suche?was={slug}&wo={city}"))
SPAM = (("Jobs in Deiner Nähe – Jetzt bewerben!", "Tausende offene Stellen, täglich neu. Mit einem Klick bewerben, "
         "ohne Anschreiben. Top-Gehalt, sofort starten!"),
        ("Stellenbeschreibung schreiben: Vorlage & Muster 2026", "So schreiben Sie eine Stellenbeschreibung: Aufbau, "
         "Inhalte und eine kostenlose Vorlage für Arbeitgeber."),
        ("Berufe von A bis Z – Gehalt, Ausbildung, Perspektiven", "Über 3.000 Berufe im Überblick: was man verdient, "
         "welche Ausbildung man braucht und wie die Aussichten sind."),
        ("Nebenjob gesucht? Minijobs & Aushilfe", "Flexible Minijobs und Aushilfsjobs in deiner Stadt – finde jetzt "
         "den passenden Nebenjob."))
FORBIDDEN_HTML = (b"<!doctype html>\n<html lang=en>\n<title>403 Forbidden</title>\n<h1>Forbidden</h1>\n<p>You don&#39;t"
                  b" have the permission to access the requested resource. It is either read-protected or not "
                  b"readable by the server.</p>\n")


@dataclass(frozen=True)
class SnippetMix:
    """The shares of each result kind (see the module's docstring)."""

    nothing_relevant: float = 0.15
    berufenet: float = 0.55
    listings: float = 0.65
    listing_closest: float = 0.6  # a listing is of the title the query is closest to, else of a sibling title
    group: float = 0.5
    neighbour: float = 0.55
    neighbour_first: float = 0.35
    spam_min: int = 1
    spam_max: int = 3


@dataclass
class SearxFault:
    kind: FaultKind
    count: int = 1
    query: str | None = None  # only queries containing this text
    retry_after: float | None = None
    served: int = 0


def _slug(text: str) -> str:
    return quote("-".join(reading_key(text).split()) or "beruf")


def _clip(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1].rsplit(" ", 1)[0] + " …"


@dataclass
class SearxTestServer(LoopbackServer):
    catalogue: Catalogue | None = None
    truth: Mapping[str, str] = field(default_factory=dict)  # title (casefolded, as queried) -> its 5-digit code
    mix: SnippetMix = field(default_factory=SnippetMix)
    seed: int = 0
    faults: list[SearxFault] = field(default_factory=list)
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # query -> its results, as given
    json_enabled: bool = True
    stall_s: float = 2.0
    drip_s: float = 0.02

    def __post_init__(self) -> None:
        catalogue = self.catalogue or read_kldb()
        self.codes: dict[str, KldbCode] = {c.code: c for c in catalogue.codes}
        self.by_code: dict[str, list[Profession]] = defaultdict(list)
        self.words: dict[str, list[Profession]] = defaultdict(list)
        for p in catalogue.professions:
            self.by_code[p.kldb_code].append(p)
            for word in set(reading_key(p.name_male).split()):
                self.words[word].append(p)
        self.group_codes: dict[str, list[str]] = defaultdict(list)
        for code in sorted(self.by_code):
            self.group_codes[code[:3]].append(code)
        self.requests: Counter[str] = Counter()
        self.queries: list[str] = []
        self._lock = threading.Lock()

    def add_fault(self, fault: SearxFault) -> SearxFault:
        with self._lock:
            self.faults.append(fault)
        return fault

    # -------------------------------------------------------------- what a query finds
    def code_for(self, title: str) -> str | None:
        """The code whose pages the query finds: ``truth``'s, else the code of the catalogue title sharing the
        most words with the title (fewest other words on a tie), else None."""
        code = self.truth.get(title.casefold())
        if code:
            return code
        words = set(reading_key(title).split())
        hits: Counter[Profession] = Counter()
        for word in words:
            for p in self.words.get(word, ()):
                hits[p] += 1
        if not hits:
            return None
        best = min(hits, key=lambda p: (-hits[p], len(reading_key(p.name_male).split()), p.berufenet_id))
        return best.kldb_code

    def results_for(self, query: str) -> list[dict[str, Any]]:
        """The results of a query, ranked (the same every time: seeded by the query)."""
        if query in self.answers:
            return self.answers[query]
        rng = random.Random(hashlib.sha256(f"{self.seed}\x1f{query}".encode()).digest())
        title = query.removesuffix(QUERY_SUFFIX).strip()
        code = self.code_for(title)
        mix = self.mix
        right: list[dict[str, Any]] = []
        wrong: list[dict[str, Any]] = []
        if code is not None and code in self.by_code:
            own = self.by_code[code]
            if rng.random() >= mix.nothing_relevant:
                closest = self._closest(own, title)
                if rng.random() < mix.berufenet:
                    right.append(self._berufenet(closest, rng))
                if rng.random() < mix.listings:
                    right += [self._listing(closest if rng.random() < mix.listing_closest else rng.choice(own), rng)
                              for _ in range(rng.randint(1, 2))]
                if rng.random() < mix.group and code[:3] in self.codes:
                    right.append(self._group(self.codes[code[:3]]))
            others = [c for c in self.group_codes[code[:3]] if c != code]
            if others and rng.random() < mix.neighbour:
                wrong.append(self._berufenet(rng.choice(self.by_code[rng.choice(others)]), rng))
        spam = [self._spam(rng) for _ in range(rng.randint(mix.spam_min, mix.spam_max))]
        if wrong and rng.random() < mix.neighbour_first:
            ranked = wrong + right
        else:
            ranked = right + wrong
        ranked += spam
        for position, result in enumerate(ranked, 1):
            result["positions"] = [position]
            result["score"] = round(3.0 / position, 4)
        return ranked

    def _closest(self, professions: list[Profession], title: str) -> Profession:
        words = set(reading_key(title).split())
        return max(professions, key=lambda p: (len(words & set(reading_key(p.name_male).split())),
                                               p.berufenet_id))

    @staticmethod
    def _result(url: str, title: str, content: str, engines: list[str], category: str = "general") -> dict[str, Any]:
        parts = urlsplit(url)
        return {"url": url, "title": title, "content": content, "engine": engines[0], "engines": engines,
                "parsed_url": [parts.scheme, parts.netloc, parts.path, "", parts.query, ""],
                "template": "default.html", "positions": [1], "score": 1.0, "category": category,
                "publishedDate": None, "thumbnail": "", "priority": ""}

    def _activities(self, code: str) -> str:
        known = self.codes.get(code)
        return known.description.replace("\n", "; ") if known else ""

    def _berufenet(self, p: Profession, rng: random.Random) -> dict[str, Any]:
        text = f"{p.name}: Aufgaben und Tätigkeiten. {self._activities(p.kldb_code)}"
        return self._result(f"https://web.arbeitsagentur.de/berufenet/beruf/{p.berufenet_id}",
                            f"{p.name} – Beruf – BERUFENET", _clip(text, 320),
                            rng.sample(["google", "duckduckgo", "brave", "startpage"], 2))

    def _listing(self, p: Profession, rng: random.Random) -> dict[str, Any]:
        engine, pattern = rng.choice(BOARDS)
        city = rng.choice(CITIES)
        n = rng.randint(3, 2400)
        text = (f"{n} Jobs als {p.name_male} in {city}. Ihre Aufgaben: "
                f"{self._activities(p.kldb_code)[:160]} Jetzt bewerben!")
        return self._result(pattern.format(slug=_slug(p.name_male), city=quote(city)),
                            f"{p.name_male} (m/w/d) Jobs in {city} | {engine}", _clip(text, 300), [engine])

    def _group(self, group: KldbCode) -> dict[str, Any]:
        text = f"{group.title} umfassen Berufe, die {group.description.replace(chr(10), '; ')}"
        return self._result(f"https://de.wikipedia.org/wiki/{quote(group.title.replace(' ', '_'))}",
                            f"{group.title} – Wikipedia", _clip(text, 320), ["wikipedia"])

    def _spam(self, rng: random.Random) -> dict[str, Any]:
        title, text = rng.choice(SPAM)
        return self._result(f"https://www.jobs-portal.example/{rng.randint(1000, 99999)}", title, text,
                            ["bing"])

    # -------------------------------------------------------------- HTTP
    def _fault_for(self, query: str) -> SearxFault | None:
        with self._lock:
            for fault in self.faults:
                if fault.served < fault.count and (fault.query is None or fault.query in query):
                    fault.served += 1
                    return fault
        return None

    def answer(self, query: str) -> dict[str, Any]:
        results = self.results_for(query)
        return {"query": query, "number_of_results": len(results) * 1000 if results else 0, "results": results,
                "answers": [], "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": []}

    def handle(self, request: BaseHTTPRequestHandler, body: bytes | None) -> None:
        parts = urlsplit(request.path)
        with self._lock:
            self.requests[parts.path] += 1
        if parts.path == "/internal":
            return send_raw(request, 200, INTERNAL_SECRET, "text/plain")
        if parts.path != "/search":
            return send_raw(request, 404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")
        params = parse_qs(parts.query)
        query = (params.get("q") or [""])[0]
        if params.get("format", [""])[0] != "json":
            return send_raw(request, 200, b"<!DOCTYPE html><html><body>results</body></html>",
                            "text/html; charset=utf-8")
        with self._lock:
            self.queries.append(query)
        if not self.json_enabled:
            return send_raw(request, 403, FORBIDDEN_HTML, "text/html; charset=utf-8")
        fault = self._fault_for(query)
        kind = fault.kind if fault else None
        if kind == "stall":
            time.sleep(self.stall_s)  # past the client's timeout; the answer is never read
            return send_raw(request, 504, b"stalled", "text/plain")
        if kind == "429":
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault and fault.retry_after is not None else None
            return send_raw(request, 429, b"Too Many Requests", "text/plain; charset=utf-8", headers)
        if kind == "403":
            return send_raw(request, 403, FORBIDDEN_HTML, "text/html; charset=utf-8")
        if kind == "500":
            return send_raw(request, 500, b"<h1>Internal Server Error</h1>", "text/html; charset=utf-8")
        if kind == "html":
            return send_raw(request, 200, b"<!DOCTYPE html><html><head><title>SearXNG</title></head><body>"
                            b"<div id='results'></div></body></html>", "text/html; charset=utf-8")
        if kind == "empty":
            return send_json(request, 200, {"query": query, "number_of_results": 0, "results": [], "answers": [],
                                            "corrections": [], "infoboxes": [], "suggestions": [],
                                            "unresponsive_engines": [["google", "timeout"],
                                                                     ["duckduckgo", "CAPTCHA"]]})
        if kind == "redirect":
            return send_raw(request, 302, b"", "text/plain", {"Location": f"{self.url}/internal"})
        if kind == "deep":
            return send_raw(request, 200, b'{"results":' + b"[" * 300_000 + b"]" * 300_000 + b"}", "application/json")
        if kind == "gzip":
            return send_raw(request, 200, b"\x1f\x8b\x08\x00not gzip at all" * 10, "application/json",
                            {"Content-Encoding": "gzip"})
        payload = json.dumps(self.answer(query), ensure_ascii=False).encode()
        if kind in ("cut", "drip"):
            return self._send_badly(request, kind, payload)
        if kind == "truncated":
            return send_raw(request, 200, payload[: len(payload) // 2], "application/json")
        send_raw(request, 200, payload, "application/json")


    def _send_badly(self, request: BaseHTTPRequestHandler, kind: str, payload: bytes) -> None:
        request.close_connection = True
        try:
            request.send_response(200)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(payload) + (100_000 if kind == "cut" else 0)))
            request.end_headers()
            if kind == "cut":  # part of it, then the connection ends (a proxy under load does this)
                request.wfile.write(payload[: len(payload) // 2])
                request.wfile.flush()
                request.connection.shutdown(socket.SHUT_RDWR)
                return
            for i in range(len(payload)):  # until the client gives up (a broken pipe) or the answer is sent
                request.wfile.write(payload[i : i + 1])
                request.wfile.flush()
                time.sleep(self.drip_s)
        except OSError:
            pass  # the client hung up


def query_title(title: str) -> str:
    """The title part of the web stage's query for a posting title, as the server's ``truth`` is keyed."""
    return (normalize_title(title).text or title.strip()).casefold()


def snippet_vote_script(professions: Sequence[Profession], *, min_named: int = 2,
                        other: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                        ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A chat script for the Ollama test server that stands in for the LLM of the web stage without knowing
    any truth: it reads the snippets of the web prompt (ty_resources/prompts/label_web.toml) and picks the
    candidate that the most snippets name (a reading of the catalogue title, as whole words, in a snippet's
    title or text; the earlier candidate on a tie) when at least ``min_named`` snippets name it, citing those;
    else NONE. Other prompts go to ``other`` (else NONE). What it measures is the stage's plumbing and its
    evidence, not a model's judgement."""
    readings = {p.berufenet_id: {f" {key} " for r in (p.name, p.name_male, p.name_female) if (key := reading_key(r))}
                for p in professions}

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        text = body["messages"][-1]["content"]
        if "Search results:\n" not in text or "\nCandidates:\n" not in text:
            return other(body) if other else {"choice": "NONE", "reason": "no candidate fits"}
        shown = text.split("Search results:\n", 1)[1].split("\nCandidates:\n", 1)[0]
        keys = []
        for block in shown.split("\n["):
            head, _, content = block.partition("\n")
            keys.append(f" {reading_key(head.rsplit(' (', 1)[0] + ' ' + content)} ")
        ids = body["format"]["properties"]["choice"]["enum"][:-2]
        votes = {i: [n for n, key in enumerate(keys, 1) if any(r in key for r in readings.get(i, ()))] for i in ids}
        best = min(ids, key=lambda i: (-len(votes[i]), ids.index(i))) if ids else None
        if best is not None and len(votes[best]) >= min_named:
            return {"choice": best, "support": votes[best], "reason": f"{len(votes[best])} snippets name it"}
        return {"choice": "NONE", "support": [], "reason": f"no candidate named by {min_named} snippets"}

    return answer
