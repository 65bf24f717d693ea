"""The documentation against the code: README.md and docs/*.md.

- The environment-variable table of docs/configuration.md is what ``ty_resources.settings_doc`` renders from
  ``Settings`` (a setting added, renamed or re-described without regenerating the docs fails here).
- Every relative Markdown link, and every repository path written in backticks, names a file or folder that is
  in the repository; anchors into Markdown files name a heading there.
- README.md stays short (at most 200 lines): the rest belongs in docs/.

Plus the generator's own rules on small settings classes of its own.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ty_resources import settings_doc
from ty_resources.settings_doc import (
    BEGIN,
    END,
    REGENERATE,
    MarkersMissing,
    UndocumentedSetting,
    extract_table,
    render_table,
    replace_table,
)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200

# What stands in backticks and is a repository path: one token of path characters that either has a folder
# part whose first segment is a top-level entry of the repository (or a package, ty_*), or ends in the
# extension of a file kind the repository holds. Paths relative to the repository root.
_PATH_TOKEN = re.compile(r"[A-Za-z0-9_.\-/]+")
_FILE_EXTENSIONS = {"py", "sql", "md", "toml", "yaml", "yml", "json", "csv", "txt", "cfg", "ini", "sh"}
# Folders that are made at run time and are not in the repository: paths under them are not checked.
_RUNTIME_FOLDERS = {".venv", ".ty", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis",
                    "__pycache__", "build", "dist"}
# Placeholders in a path that stand for a name (`bench/NAME.py`, `sql/NNN_name.sql`).
_PLACEHOLDER = re.compile(r"(?<![A-Za-z])(NAME|NNN|ASSET)(?![A-Za-z])")

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _prose_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of the lines outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str, seen: dict[str, int]) -> str:
    """GitHub's anchor of a heading: its text without formatting, lower case, punctuation dropped, spaces to
    hyphens; a repeated heading gets -1, -2, ..."""
    text = _CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link: its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    anchor = text.replace(" ", "-")
    count = seen.get(anchor, 0)
    seen[anchor] = count + 1
    return anchor if count == 0 else f"{anchor}-{count}"


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    return {slug(m.group(2), seen) for _, line in _prose_lines(path) if (m := _HEADING.match(line))}


def _top_level() -> set[str]:
    return {p.name for p in ROOT.iterdir()} - _RUNTIME_FOLDERS


def repository_path(span: str, top_level: set[str]) -> str | None:
    """The repository path a code span names, or None when it names none (a command, a value, a URL)."""
    token = span.strip()
    if not _PATH_TOKEN.fullmatch(token) or token.startswith("/") or _PLACEHOLDER.search(token):
        return None
    first, slash, _rest = token.partition("/")
    if first in _RUNTIME_FOLDERS:
        return None
    if slash and (first in top_level or re.fullmatch(r"ty_\w+", first)):
        return token
    extension = token.rsplit(".", 1)[-1] if "." in token.strip(".") else ""
    if extension in _FILE_EXTENSIONS:
        return token
    return None


def _where(path: Path, number: int) -> str:
    return f"{path.relative_to(ROOT)}:{number}"


# --------------------------------------------------------------------------- the settings table


def test_the_settings_table_is_what_settings_renders():
    try:
        expected = render_table()
    except UndocumentedSetting as exc:
        pytest.fail(f"the settings table cannot be rendered: {exc}")
    documented = extract_table(CONFIGURATION.read_text(encoding="utf-8"))
    assert documented == expected, (
        f"docs/configuration.md's settings table differs from Settings: run `{REGENERATE}` "
        "(from the repository root, with .venv/bin/python)"
    )


# --------------------------------------------------------------------------- links and paths


def test_the_documents_exist():
    assert README.is_file() and CONFIGURATION.is_file()
    assert len(DOCUMENTS) >= 6, [str(d.relative_to(ROOT)) for d in DOCUMENTS]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_to_files_and_headings(document: Path):
    broken = []
    for number, line in _prose_lines(document):
        for target in _LINK.findall(_CODE_SPAN.sub("``", line)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (document.parent / file_part).resolve() if file_part else document
            if not linked.is_relative_to(ROOT) or not linked.exists():
                broken.append(f"{_where(document, number)}: {target} (no such file in the repository)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{_where(document, number)}: {target} (no heading #{anchor} in {linked.name})")
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_in_backticks_exist(document: Path):
    top_level = _top_level()
    missing = []
    for number, line in _prose_lines(document):
        for match in _CODE_SPAN.finditer(line):
            path = repository_path(match.group(2), top_level)
            if path is not None and not (ROOT / path).exists():
                missing.append(f"{_where(document, number)}: `{path}`")
    assert not missing, "paths that are not in the repository:\n" + "\n".join(missing)


@functools.cache
def _markdown_names() -> frozenset[str]:
    """The names of the repository's Markdown files (not those of the venv or other runtime folders)."""
    return frozenset(p.name for top in ROOT.iterdir() if top.name not in _RUNTIME_FOLDERS
                     for p in ([top] if top.is_file() else top.rglob("*")) if p.suffix == ".md")


_MARKDOWN_NAME = re.compile(r"(?<![\w/.-])([\w./-]+\.md)\b")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_markdown_file_a_document_names_is_in_the_repository(document: Path):
    """A document may name another document anywhere in its text, not only as a link or a path in backticks:
    each such name is a file of the repository (relative to the document, the root, or by its name), so no
    document sends a reader to a file only its author had."""
    ours = _markdown_names()
    missing = [
        f"{_where(document, n)}: {name}"
        for n, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1)
        for name in _MARKDOWN_NAME.findall(line)
        if not ((document.parent / name).exists() or (ROOT / name).exists() or Path(name).name in ours)
    ]
    assert not missing, "documents named that are not in the repository:\n" + "\n".join(missing)


def test_the_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move detail into docs/"
    )


@pytest.mark.parametrize(
    ("span", "path"),
    [
        ("ty_resources/kldb.py", "ty_resources/kldb.py"),
        ("bench/api.py", "bench/api.py"),
        ("sql/", "sql/"),
        ("dagster.yaml", "dagster.yaml"),
        ("ty_resourcez/kldb.py", "ty_resourcez/kldb.py"),  # a typo is still a path (and fails the test above)
        ("NOTES.md", "NOTES.md"),  # not in the repository: a path all the same (and fails above)
        ("bench/NAME.py", None),
        ("sql/NNN_name.sql", None),
        (".venv/bin/tyctl", None),
        (".ty/pg", None),
        ("TY_DATA_DIR/cache", None),
        ("/api/v1/matches/next", None),
        ("make run", None),
        ("ty_session", None),
        ("ty_assets.definitions", None),
        ("postgresql+psycopg2://", None),
        ("cv.pdf", None),
        ("m=32, ef_construction=200", None),
    ],
)
def test_what_counts_as_a_repository_path(span: str, path: str | None):
    assert repository_path(span, _top_level()) == path


def test_github_anchors():
    seen: dict[str, int] = {}
    assert slug("Pipeline health (`tyctl health`)", seen) == "pipeline-health-tyctl-health"
    assert slug("Schedule, freshness, alerts", seen) == "schedule-freshness-alerts"
    assert slug("Why the thresholds are 0.85 / 0.55", seen) == "why-the-thresholds-are-085--055"
    assert slug("Schedule, freshness, alerts", seen) == "schedule-freshness-alerts-1"


# --------------------------------------------------------------------------- the generator's rules


class _Documented(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TY_")

    home: Path = Field(default_factory=lambda: Path("/somewhere/on/one/machine"),
                       description="Where things are kept. Default: .ty/ in the checkout.")
    server_url: str | None = Field(default=None, validation_alias=AliasChoices("SERVER_URL"),
                                   description="The server (a | in the text). Unset: a local one.")
    hook: str | None = Field(default=None, description="A webhook.")
    debug: bool = Field(default=False, description="Development only.")
    timeout_s: float = Field(default=10.0, description="Seconds to wait.")
    share: float = Field(default=0.05, description="A share.")
    recipients: str = Field(default="", description="Comma-separated.")


def test_the_table_of_a_documented_class():
    assert render_table(_Documented).splitlines() == [
        "| name | default | meaning |",
        "|---|---|---|",
        "| `TY_HOME` | .ty/ in the checkout | Where things are kept. |",
        "| `SERVER_URL` | unset: a local one | The server (a \\| in the text). |",
        "| `TY_HOOK` | unset | A webhook. |",
        "| `TY_DEBUG` | `false` | Development only. |",
        "| `TY_TIMEOUT_S` | `10` | Seconds to wait. |",
        "| `TY_SHARE` | `0.05` | A share. |",
        "| `TY_RECIPIENTS` | empty | Comma-separated. |",
    ]


def test_a_field_without_description_fails_loudly_naming_every_one():
    class Undocumented(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="TY_")
        first_timeout_s: float = 5.0
        documented: int = Field(default=1, description="Fine.")
        second: str = Field(default="x")

    with pytest.raises(UndocumentedSetting) as raised:
        render_table(Undocumented)
    message = str(raised.value)
    assert "first_timeout_s (TY_FIRST_TIMEOUT_S)" in message and "second (TY_SECOND)" in message
    assert "documented (TY_DOCUMENTED)" not in message
    assert REGENERATE in message


def test_a_factory_default_must_be_described():
    class Factory(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="TY_")
        data_dir: Path = Field(default_factory=Path.cwd, description="Holds the data.")

    with pytest.raises(UndocumentedSetting, match="data_dir .*default_factory"):
        render_table(Factory)


def test_the_table_goes_between_the_markers():
    document = f"# Title\n\nText.\n\n{BEGIN}\nold table\n{END}\n\nMore text.\n"
    updated = replace_table(document, "| a |\n|---|\n")
    assert updated == f"# Title\n\nText.\n\n{BEGIN}\n\n| a |\n|---|\n\n{END}\n\nMore text.\n"
    assert extract_table(updated) == "| a |\n|---|\n"
    assert replace_table(updated, "| a |\n|---|\n") == updated
    for broken in ("no markers", f"{END}\n{BEGIN}", f"{BEGIN}\n{BEGIN}\n{END}"):
        with pytest.raises(MarkersMissing):
            replace_table(broken, "| a |\n")


def test_main_prints_and_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(settings_doc, "render_table", lambda: "| name |\n|---|\n")
    assert settings_doc.main([]) == 0
    assert capsys.readouterr().out == "| name |\n|---|\n"

    target = tmp_path / "configuration.md"
    target.write_text(f"intro\n{BEGIN}\n{END}\n", encoding="utf-8")
    assert settings_doc.main(["--write", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == f"intro\n{BEGIN}\n\n| name |\n|---|\n\n{END}\n"

    target.write_text("no markers\n", encoding="utf-8")
    assert settings_doc.main(["--write", str(target)]) == 1
    assert "settings_doc:" in capsys.readouterr().err
