"""The LLM's prompts: one TOML file each beside this module, a template with its version.

A prompt file holds ``version`` (a number a person bumps with a change in meaning), ``description`` (what it is
for), ``system`` (the system message) and ``user`` (the user message as a :class:`string.Template`:
``$name`` or ``${name}``, ``$$`` for a dollar sign). What is substituted is inserted as it is and never read as
a template again, so a posting or a profile cannot reach into the prompt's own text.

:attr:`Prompt.version` is ``name@version:digest``: the digest is the SHA-256 of the file, so any edit gives a new
version even when nobody bumped the number. Every stored LLM output records its model and this version; a changed
prompt re-makes exactly the outputs made with it, and nothing made with another prompt.
"""

from __future__ import annotations

import hashlib
import string
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent


class PromptError(ValueError):
    """A prompt file that is missing or malformed, or a message asked for without one of its values."""


@dataclass(frozen=True)
class Prompt:
    name: str
    number: int
    description: str
    system: str
    user: str
    digest: str  # SHA-256 of the file, hex

    @property
    def version(self) -> str:
        """``name@number:digest8``: what each stored output records."""
        return f"{self.name}@{self.number}:{self.digest[:8]}"

    @property
    def placeholders(self) -> frozenset[str]:
        """The names the user template substitutes."""
        names = set()
        for match in string.Template.pattern.finditer(self.user):
            name = match.group("named") or match.group("braced")
            if name:
                names.add(name)
        return frozenset(names)

    def messages(self, **values: object) -> list[dict[str, str]]:
        """The chat messages (system, user) with ``values`` set into the user template; every placeholder needs a
        value, and a value the template does not use is an error too (a typo would otherwise drop data)."""
        missing = self.placeholders - values.keys()
        unused = values.keys() - self.placeholders
        if missing or unused:
            raise PromptError(f"prompt {self.name}: missing values {sorted(missing)}, unknown values {sorted(unused)}")
        user = string.Template(self.user).substitute({k: str(v) for k, v in values.items()})
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


def parse_prompt(name: str, raw: bytes) -> Prompt:
    """A :class:`Prompt` from a file's bytes; :class:`PromptError` naming what is wrong."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PromptError(f"prompt {name}: not a TOML file: {exc}") from exc
    fields = {"version": int, "description": str, "system": str, "user": str}
    for key, kind in fields.items():
        if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
            raise PromptError(f"prompt {name}: {key!r} must be a {kind.__name__}")
    if unknown := data.keys() - fields.keys():
        raise PromptError(f"prompt {name}: unknown keys {sorted(unknown)}")
    if data["version"] < 1:
        raise PromptError(f"prompt {name}: version must be 1 or more")
    prompt = Prompt(name, data["version"], data["description"].strip(), data["system"].strip(), data["user"],
                    hashlib.sha256(raw).hexdigest())
    try:  # a stray "$" (not "$$", not "$name") fails here, not at the first call in a nightly run
        string.Template(prompt.user).substitute({n: "" for n in prompt.placeholders})
    except ValueError as exc:
        raise PromptError(f"prompt {name}: the user template is malformed: {exc}") from exc
    return prompt


@cache
def load_prompt(name: str) -> Prompt:
    """The prompt ``name`` (the file ``ty_resources/prompts/<name>.toml``), read once per process."""
    if not name.isidentifier():
        raise PromptError(f"not a prompt name: {name!r}")
    path = PROMPTS_DIR / f"{name}.toml"
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise PromptError(f"no prompt {name!r} ({path})") from exc
    return parse_prompt(name, raw)


def all_prompts() -> list[Prompt]:
    """Every prompt file of the package, by name."""
    return [load_prompt(path.stem) for path in sorted(PROMPTS_DIR.glob("*.toml"))]
