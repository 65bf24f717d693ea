"""The environment-variable table of docs/configuration.md, rendered from :class:`~ty_resources.settings.Settings`.

One row per settings field, in the order the class declares them: the variable's name, its default, its meaning.

- **Name**: ``TY_`` + the field name upper-cased, or the field's ``validation_alias`` (``DATABASE_URL``,
  ``OLLAMA_HOST``).
- **Meaning**: the field's ``description=``. A field without one is an error (:class:`UndocumentedSetting`):
  every setting is documented, or the table is not rendered at all.
- **Default**: the value as one would write it in the environment (``true``, ``0.5``, ``bge-m3``); ``None`` is
  "unset". When such a field's description ends in a sentence ``Unset: ...`` (or ``Default: ...``), that
  sentence moves from the meaning into the default: ``Unset: the bundled copy.`` gives "unset: the bundled
  copy". A field with a ``default_factory`` (``data_dir``) has no value worth printing (it would be one
  machine's path): its description must end in such a sentence, whose text is the default.

``python -m ty_resources.settings_doc`` prints the table; ``--write docs/configuration.md`` replaces what stands
between the markers ``<!-- settings:begin -->`` and ``<!-- settings:end -->`` in that file. Plain Python: no
Dagster, no FastAPI.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, AliasPath
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from ty_resources.settings import Settings

BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"
REGENERATE = "python -m ty_resources.settings_doc --write docs/configuration.md"

# A description's closing sentence that says what the default is: "... Unset: TY_DATA_DIR/cache."
_DEFAULT_SENTENCE = re.compile(r"(?:^|(?<=[.)!?])\s+)(?P<kind>Unset|Default):\s*(?P<text>[^\n]+?)\.?\s*$")


class UndocumentedSetting(ValueError):
    """A settings field the table cannot describe: no ``description=``, or a factory default nobody explained."""


class MarkersMissing(ValueError):
    """The document has no (or a broken) ``<!-- settings:begin -->`` / ``<!-- settings:end -->`` pair."""


def env_name(settings_class: type[BaseSettings], name: str, field: FieldInfo) -> str:
    """The environment variable a field is read from."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        alias = first if isinstance(first, str) else None
    if isinstance(alias, str):
        return alias.upper()
    if isinstance(alias, AliasPath):
        raise UndocumentedSetting(f"{name}: an AliasPath cannot be named as one environment variable")
    prefix = settings_class.model_config.get("env_prefix", "") or ""
    return (prefix + name).upper()


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _value(value: Any) -> str:
    """A default as one would write it in the environment."""
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float):
        return f"`{int(value)}`" if value.is_integer() else f"`{value!r}`"
    if isinstance(value, str) and value == "":
        return "empty"
    return f"`{value}`"


def split_default(description: str) -> tuple[str, str | None, str | None]:
    """``(meaning, kind, text)``: the description without a closing ``Unset:``/``Default:`` sentence, that
    sentence's keyword and its text; ``kind`` and ``text`` are None when there is no such sentence."""
    match = _DEFAULT_SENTENCE.search(description)
    if match is None:
        return description.strip(), None, None
    return description[: match.start()].strip(), match["kind"], match["text"].strip()


def describe(settings_class: type[BaseSettings], name: str, field: FieldInfo) -> tuple[str, str, str]:
    """``(variable, default, meaning)`` of one field, as Markdown."""
    variable = env_name(settings_class, name, field)
    description = (field.description or "").strip()
    if not description:
        raise UndocumentedSetting(f"{name} ({variable}) has no description=")
    meaning, kind, text = split_default(description)
    if field.default_factory is not None:
        if not text:
            raise UndocumentedSetting(
                f"{name} ({variable}) has a default_factory: end its description with a sentence "
                "'Default: ...' saying what the default is"
            )
        return f"`{variable}`", text, meaning or description
    if field.default is None:
        return f"`{variable}`", f"unset: {text}" if text else "unset", meaning or description
    return f"`{variable}`", _value(field.default), description


def render_table(settings_class: type[BaseSettings] = Settings) -> str:
    """The Markdown table (name, default, meaning) of every field of ``settings_class``, in declaration order.

    Raises :class:`UndocumentedSetting` naming every field that lacks a description (all at once)."""
    rows: list[tuple[str, str, str]] = []
    problems: list[str] = []
    for name, field in settings_class.model_fields.items():
        try:
            rows.append(describe(settings_class, name, field))
        except UndocumentedSetting as exc:
            problems.append(str(exc))
    if problems:
        raise UndocumentedSetting(
            f"{len(problems)} setting(s) cannot be documented: " + "; ".join(problems)
            + f". Fix them in {settings_class.__module__}, then run {REGENERATE}"
        )
    lines = ["| name | default | meaning |", "|---|---|---|"]
    lines += [f"| {_cell(variable)} | {_cell(default)} | {_cell(meaning)} |" for variable, default, meaning in rows]
    return "\n".join(lines) + "\n"


def _marker_positions(text: str) -> tuple[int, int]:
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise MarkersMissing(f"expected exactly one {BEGIN} and one {END}")
    begin, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    if end < begin:
        raise MarkersMissing(f"{END} comes before {BEGIN}")
    return begin, end


def extract_table(text: str) -> str:
    """What stands between the markers, without the blank lines around it."""
    begin, end = _marker_positions(text)
    return text[begin:end].strip("\n") + "\n"


def replace_table(text: str, table: str) -> str:
    """``text`` with ``table`` between the markers (one blank line on each side)."""
    begin, end = _marker_positions(text)
    return text[:begin] + "\n\n" + table.strip("\n") + "\n\n" + text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ty_resources.settings_doc",
        description="Print the environment-variable table rendered from Settings, or write it into a document.",
    )
    parser.add_argument(
        "--write", type=Path, metavar="FILE",
        help=f"replace the table between {BEGIN} and {END} in FILE (docs/configuration.md)",
    )
    args = parser.parse_args(argv)
    try:
        table = render_table()
        if args.write is None:
            sys.stdout.write(table)
            return 0
        old = args.write.read_text(encoding="utf-8")
        new = replace_table(old, table)
    except (UndocumentedSetting, MarkersMissing, OSError) as exc:
        print(f"settings_doc: {exc}", file=sys.stderr)
        return 1
    if new != old:
        args.write.write_text(new, encoding="utf-8")
        print(f"settings_doc: {args.write} updated", file=sys.stderr)
    else:
        print(f"settings_doc: {args.write} already up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
