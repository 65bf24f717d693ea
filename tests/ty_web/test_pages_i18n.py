"""The pages' languages and markup rules, checked over every template and page module (no app needed):

- every message the templates (``{{ _("...") }}``) and page modules (``gettext(request, "...")``) use has a German
  translation in ty_web/locale/de/LC_MESSAGES/*.po, with the same placeholders; no message is translated twice,
  and no catalogue entry is left that nothing uses;
- no word is hard-coded in a template: text between tags and in the attributes people read (``aria-label``,
  ``placeholder``, ``title``, ``alt``) comes from gettext;
- nothing in a template needs what the Content-Security-Policy forbids (inline script or style, event-handler
  attributes, ``javascript:`` links) or turns autoescaping off (``|safe``, ``Markup``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ty_web.pages.render import LOCALES, TEMPLATES, environment, translations

PAGES = Path(__file__).resolve().parents[2] / "ty_web" / "pages"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# Text a template may show without gettext: the brand, numbers, punctuation and character references.
BRAND = "talent.yoga"
ENTITY = re.compile(r"&#?\w+;")


def used_messages() -> dict[str, list[str]]:
    """Every message id the pages use, with where."""
    found: dict[str, list[str]] = {}
    sources = [
        (TEMPLATES, [("**.html", "jinja2")], {"**.html": {"extensions": "jinja2.ext.i18n"}}, {"_": None, "gettext": None}),
        (PAGES, [("**.py", "python")], {}, {"gettext": (2,)}),
    ]
    for folder, method_map, options, keywords in sources:
        for filename, lineno, message, _comments, _context in extract_from_dir(
                folder, method_map=method_map, options_map=options, keywords=keywords):
            ids = message if isinstance(message, tuple) else (message,)
            for msgid in ids:
                if msgid:
                    found.setdefault(msgid, []).append(f"{Path(folder).name}/{filename}:{lineno}")
    return found


def german_catalogues() -> dict[str, dict[str, str]]:
    catalogues = {}
    for po in sorted((LOCALES / "de" / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale="de")
        catalogues[po.name] = {m.id: m.string for m in catalog if m.id and isinstance(m.id, str)}
        fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
        assert not fuzzy, f"{po.name}: fuzzy entries {fuzzy}"
    return catalogues


def test_every_message_has_a_german_translation_once():
    used = used_messages()
    assert len(used) > 50, "the extraction found (almost) nothing: is the jinja2 extractor installed?"
    catalogues = german_catalogues()
    where: dict[str, list[str]] = {}
    for name, entries in catalogues.items():
        for msgid in entries:
            where.setdefault(msgid, []).append(name)
    twice = {msgid: files for msgid, files in where.items() if len(files) > 1}
    assert not twice, f"translated in more than one catalogue: {twice}"
    merged = {msgid: text for entries in catalogues.values() for msgid, text in entries.items()}
    missing = {msgid: places[:2] for msgid, places in used.items() if not merged.get(msgid)}
    assert not missing, f"messages without a German translation: {missing}"
    unused = sorted(msgid for msgid in merged if msgid not in used)
    assert not unused, f"catalogue entries nothing uses (remove them): {unused}"
    wrong = {msgid: text for msgid, text in merged.items()
             if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(text))}
    assert not wrong, f"placeholders differ between message and translation: {wrong}"


def test_german_is_the_translation_the_templates_get():
    template = '{{ _("Sign in") }} {{ 1234.5|number(1) }} {{ day|date }}'
    from datetime import date
    assert environment("de").from_string(template).render(day=date(2026, 12, 7)) == "Anmelden 1.234,5 07.12.2026"
    assert environment("en").from_string(template).render(day=date(2026, 12, 7)) == "Sign in 1,234.5 Dec 7, 2026"
    assert translations("de").gettext("Skip to content") == "Zum Inhalt springen"


def templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def _without_jinja(source: str) -> str:
    source = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}", " ", source, flags=re.S)
    return re.sub(r"\{\{.*?\}\}", " ", source, flags=re.S)


@pytest.mark.parametrize("template", templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_word_is_hard_coded_in_a_template(template: Path):
    source = _without_jinja(template.read_text(encoding="utf-8"))
    source = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S | re.I)
    problems = []
    for text in re.split(r"<[^>]*>", source):
        text = text.strip()
        if re.search(r"[A-Za-zÄÖÜäöüß]", ENTITY.sub("", text.replace(BRAND, ""))):
            problems.append(text[:60])
    for attribute, value in re.findall(r"\b(aria-label|placeholder|title|alt|data-confirm)=\"([^\"]*)\"", source):
        if re.search(r"[A-Za-zÄÖÜäöüß]", value):
            problems.append(f'{attribute}="{value[:40]}"')
    assert not problems, f"{template.name}: text outside gettext: {problems}"


FORBIDDEN = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an event-handler attribute"),
    (re.compile(r"\shx-on", re.I), "hx-on (evaluated script)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"\|\s*safe\b|Markup\("), "autoescaping turned off"),
]


@pytest.mark.parametrize("template", templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_need_nothing_the_csp_forbids(template: Path):
    source = template.read_text(encoding="utf-8")
    found = [what for pattern, what in FORBIDDEN if pattern.search(source)]
    assert not found, f"{template.name}: {found}"


def test_page_modules_turn_no_autoescaping_off():
    for module in sorted(PAGES.glob("*.py")):
        text = module.read_text(encoding="utf-8")
        assert "Markup(" not in text and "autoescape=False" not in text, module.name
