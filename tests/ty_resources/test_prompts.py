"""The prompt files (ty_resources/prompts): each parses, its version follows its bytes, values stay values."""

from __future__ import annotations

import pytest

from ty_resources.prompts import PromptError, all_prompts, load_prompt, parse_prompt

GOOD = b'''version = 2
description = "d"
system = "You are terse."
user = """Title: $title
Cost: $$5 ${rest}"""
'''


def test_every_shipped_prompt_parses_and_names_itself() -> None:
    prompts = all_prompts()
    assert "label_verify" in {p.name for p in prompts}
    for prompt in prompts:
        assert prompt.system and prompt.user.strip() and prompt.description
        assert prompt.version.startswith(f"{prompt.name}@{prompt.number}:")
        assert load_prompt(prompt.name) is prompt  # read once


def test_messages_substitute_values_verbatim_and_once() -> None:
    prompt = parse_prompt("t", GOOD)
    system, user = prompt.messages(title="$rest ${title} {x}", rest="R")
    assert system == {"role": "system", "content": "You are terse."}
    # a value that looks like a placeholder is not expanded again; "$$" is a dollar sign
    assert user["content"] == "Title: $rest ${title} {x}\nCost: $5 R"


def test_missing_or_unknown_values_are_errors() -> None:
    prompt = parse_prompt("t", GOOD)
    with pytest.raises(PromptError, match=r"missing values \['rest'\]"):
        prompt.messages(title="x")
    with pytest.raises(PromptError, match=r"unknown values \['titel'\]"):
        prompt.messages(title="x", rest="y", titel="z")


def test_version_changes_with_any_edit_of_the_file() -> None:
    a = parse_prompt("t", GOOD)
    b = parse_prompt("t", GOOD.replace(b"terse.", b"terse!"))
    assert a.number == b.number == 2
    assert a.version != b.version and a.version.startswith("t@2:")
    assert parse_prompt("t", GOOD).version == a.version


@pytest.mark.parametrize(("raw", "problem"), [
    (b"version = 1\n", "'description' must be a str"),
    (b'version = true\ndescription = "d"\nsystem = "s"\nuser = "u"\n', "'version' must be a int"),
    (b'version = 0\ndescription = "d"\nsystem = "s"\nuser = "u"\n', "version must be 1 or more"),
    (b'version = 1\ndescription = "d"\nsystem = "s"\nuser = "u"\nextra = 1\n', "unknown keys"),
    (b'version = 1\ndescription = "d"\nsystem = "s"\nuser = "costs $ 5"\n', "malformed"),
    (b"version = [\n", "not a TOML file"),
])
def test_malformed_files_are_refused_when_read(raw: bytes, problem: str) -> None:
    with pytest.raises(PromptError, match=problem):
        parse_prompt("t", raw)


def test_unknown_or_odd_names_are_refused() -> None:
    with pytest.raises(PromptError, match="no prompt"):
        load_prompt("no_such_prompt")
    with pytest.raises(PromptError, match="not a prompt name"):
        load_prompt("../settings")
