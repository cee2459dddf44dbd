"""Reading docker-compose.yml as docker compose would, without docker: the env file's values, the
Compose Specification's interpolation (``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and
their colon-less forms, ``${VAR:+alt}``, ``$VAR``, ``$$``), and the argument vector a service's
container runs (the image's ENTRYPOINT from the Dockerfile followed by the service's command).

Interpolation is done on the parsed YAML's string values (compose interpolates values, never
keys), after YAML anchors and merge keys are resolved, as compose does."""

from __future__ import annotations

import json
import re
import secrets
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "idgw.env.example"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = Path(__file__).with_name("compose-spec.json")


class InterpolationError(ValueError):
    """A required variable (``${VAR:?err}`` or ``${VAR?err}``) is missing; ``names`` lists each."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.names = sorted({name for name, _ in problems})
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems))


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as compose's env files have them: blank lines and ``#`` comments skipped,
    ``export`` allowed, a value in single or double quotes taken without them."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ValueError(f"{path.name}:{number}: not KEY=VALUE: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


# ${NAME<op>word}: op is one of :- - :? ? :+ + (or none); word may hold nested ${...} one level deep.
_BRACED = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)"
                     r"(?P<word>(?:[^{}]|\$\{[^{}]*\})*))?\}")
_BARE = re.compile(r"\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


def interpolate_text(text: str, env: dict[str, str], problems: list[tuple[str, str]]) -> str:
    """One string, as the Compose Specification's interpolation reads it; a missing required
    variable is added to ``problems`` (all of them are reported together, as compose does)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text[i] != "$":
            out.append(text[i])
            i += 1
            continue
        m = _BRACED.match(text, i) or _BARE.match(text, i)
        if m is None:
            raise ValueError(f"invalid interpolation format in {text!r} at {i}")
        out.append(_resolve(m.group("name"), m.groupdict().get("op"), m.groupdict().get("word"), env, problems))
        i = m.end()
    return "".join(out)


def _resolve(name: str, op: str | None, word: str | None, env: dict[str, str],
             problems: list[tuple[str, str]]) -> str:
    value = env.get(name)
    unset, empty = value is None, not value
    if op is None:
        return value or ""
    word = interpolate_text(word or "", env, problems)
    if op == ":-":
        return word if empty else value
    if op == "-":
        return word if unset else value
    if op in (":?", "?"):
        if empty if op == ":?" else unset:
            problems.append((name, word or "required variable is missing a value"))
            return ""
        return value
    if op == ":+":
        return "" if empty else word
    return "" if unset else word  # "+"


def interpolate(node, env: dict[str, str], problems: list[tuple[str, str]]):
    if isinstance(node, str):
        return interpolate_text(node, env, problems)
    if isinstance(node, list):
        return [interpolate(item, env, problems) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env, problems) for key, value in node.items()}
    return node


def raw_compose() -> dict:
    """docker-compose.yml parsed (anchors and merge keys resolved), not interpolated."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def load_compose(env: dict[str, str]) -> dict:
    """docker-compose.yml interpolated from ``env``; ``InterpolationError`` names every missing
    required variable."""
    problems: list[tuple[str, str]] = []
    config = interpolate(raw_compose(), env, problems)
    if problems:
        raise InterpolationError(problems)
    return config


def required_empty(example: dict[str, str]) -> list[str]:
    """The example file's variables left empty for the operator to fill in."""
    return [name for name, value in example.items() if value == ""]


def filled_example(**overrides: str) -> dict[str, str]:
    """deploy/idgw.env.example as an operator would complete it: every empty value filled, secrets
    random and long enough for the gateway's start-up checks."""
    env = read_env_file(ENV_EXAMPLE)
    for name in required_empty(env):
        env[name] = secrets.token_urlsafe(36)
    env.update(IDGW_PUBLIC_HOST="id.example.go.th", IDGW_TLS="internal", IDGW_TURN_URLS="", IDGW_STUN_URLS="")
    env.update(overrides)
    return env


def schema() -> dict:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def dockerfile_instruction(name: str) -> list[str]:
    """The final stage's last ``name`` instruction (ENTRYPOINT, CMD) in exec (JSON) form."""
    found = None
    for line in _dockerfile_lines():
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == name:
            found = rest.strip()
    if found is None:
        raise AssertionError(f"the Dockerfile has no {name}")
    value = json.loads(found)  # exec form, so a signal reaches idgw rather than a shell
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), found
    return value


def _dockerfile_lines() -> list[str]:
    """Instructions with continuation lines joined and comments dropped."""
    lines: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def dockerfile_lines() -> list[str]:
    return _dockerfile_lines()


def container_argv(service: dict) -> list[str]:
    """What the service's container runs: its entrypoint (the image's, unless overridden) and its
    command (the image's CMD, unless overridden); a string command is split as compose splits it."""
    entrypoint = service.get("entrypoint", dockerfile_instruction("ENTRYPOINT"))
    command = service.get("command", dockerfile_instruction("CMD"))
    if isinstance(entrypoint, str):
        entrypoint = shlex.split(entrypoint)
    if isinstance(command, str):
        command = shlex.split(command)
    return [*entrypoint, *command]


def service_environment(service: dict, env_file_values: dict[str, str]) -> dict[str, str]:
    """A container's environment: its env_file's values, then ``environment`` (which wins)."""
    result: dict[str, str] = {}
    if service.get("env_file"):
        result.update(env_file_values)
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    result.update({k: "" if v is None else str(v) for k, v in environment.items()})
    return result
