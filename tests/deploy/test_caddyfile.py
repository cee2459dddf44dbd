"""deploy/Caddyfile, checked as text (no caddy binary here): it forwards to every gateway of the
compose file with the shared pool settings, pins every request of one video-proofing case to one
instance (the paths docs/proofing.md names), refuses /metrics from outside, and sends a request id
of its own making. A small tokenizer stands in for Caddy's lexer: balanced braces, blocks by name."""

from __future__ import annotations

import json
import re

import pytest

from tests.deploy.compose import ROOT, filled_example, load_compose

CADDYFILE = ROOT / "deploy" / "Caddyfile"


def lines() -> list[list[str]]:
    """Each non-comment line as tokens (Caddy's quoting: "..." and `...` are one token each); a
    heredoc (<<MARK ... MARK) is one token holding its text, on the line that opened it."""
    result: list[list[str]] = []
    heredoc: tuple[str, list[str]] | None = None
    for raw in CADDYFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if heredoc is not None:
            mark, body = heredoc
            if stripped.split(" ")[0] == mark:
                result[-1][-1] = "\n".join(body)
                result[-1].extend(stripped.split()[1:])
                heredoc = None
            else:
                body.append(stripped)
            continue
        if not stripped or stripped.startswith("#"):
            continue
        tokens = [t[1:-1] if t[:1] in "\"`" and len(t) > 1 else t for t in re.findall(r'"[^"]*"|`[^`]*`|\S+', stripped)]
        result.append(tokens)
        if tokens[-1].startswith("<<"):
            heredoc = (tokens[-1][2:], [])
    assert heredoc is None, "an unclosed heredoc"
    return result


def blocks() -> dict[str, list[list[str]]]:
    """Top-level blocks by their opening tokens ("{" for the global options), with their lines."""
    found: dict[str, list[list[str]]] = {}
    depth, name = 0, None
    for tokens in lines():
        if depth == 0:
            assert tokens[-1] == "{", f"a top-level line outside a block: {tokens}"
            name = " ".join(tokens[:-1]) or "{"
            found[name] = []
        else:
            found[name].append(tokens)
        depth += tokens.count("{") - tokens.count("}")
        assert depth >= 0, "a closing brace without its opening one"
    assert depth == 0, "unbalanced braces"
    return found


def nested(block: list[list[str]], *opening: str, exact: bool = False) -> list[list[str]]:
    """The lines of the first block directly inside ``block`` (not deeper) whose opening line
    starts with the ``opening`` tokens (``exact``: is exactly them)."""
    inside, depth = None, 0
    for tokens in block:
        change = tokens.count("{") - tokens.count("}")
        if inside is None:
            head = tuple(tokens[:-1]) if exact else tuple(tokens[:len(opening)])
            if depth == 0 and head == opening and tokens[-1] == "{":
                inside = []
            depth += change
            continue
        depth += change
        if depth == 0:
            return inside
        inside.append(tokens)
    raise AssertionError(f"no block {' '.join(opening)} {{")


def site() -> list[list[str]]:
    return blocks()["{$IDGW_PUBLIC_HOST}"]


def gateways() -> list[str]:
    services = load_compose(filled_example())["services"]
    return sorted(f"{name}:8000" for name in services if name.startswith("gateway-"))


def test_the_site_is_the_public_host_with_tls_from_the_env_file():
    assert ["tls", "{$IDGW_TLS}"] in site()
    proxy = load_compose(filled_example())["services"]["proxy"]
    assert set(proxy["environment"]) == {"IDGW_PUBLIC_HOST", "IDGW_TLS"}
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert ["admin", "off"] in blocks()["{"]


def test_every_request_goes_to_every_gateway_with_the_pool_settings():
    handles = [nested(site(), "handle", "@call"), nested(site(), "handle", exact=True)]
    for handle in handles:
        (proxy_line,) = [t for t in handle if t[0] == "reverse_proxy"]
        assert sorted(proxy_line[1:-1]) == gateways()
        assert ["import", "gateway_pool"] in nested(handle, "reverse_proxy")
    pool = blocks()["(gateway_pool)"]
    assert ["health_uri", "/readyz"] in pool  # an instance not ready or draining gets nothing new
    # the proxy's own request id replaces a client's; the gateways believe it only from the proxy
    assert ["header_up", "X-Request-ID", "{http.request.uuid}"] in pool
    assert any(t[0] == "lb_try_duration" for t in pool)


def test_metrics_are_refused_from_outside():
    matcher = [t for t in site() if t[:1] == ["@metrics"]]
    assert matcher == [["@metrics", "path", "/metrics", "/metrics/*"]]
    # in a handle of its own: handle blocks run before a bare respond, which the others would shadow
    assert nested(site(), "handle", "@metrics", exact=True) == [["respond", "404"]]


def call_pattern() -> re.Pattern:
    (matcher,) = [t for t in site() if t[:1] == ["@call"]]
    assert matcher[1:3] == ["path_regexp", "call"]
    return re.compile(matcher[3])


def proofing_paths() -> list[str]:
    """The paths docs/proofing.md says must reach the instance holding a case's media."""
    doc = (ROOT / "docs" / "proofing.md").read_text(encoding="utf-8")
    paths = re.findall(r"^\| `(/[^`]*<case>[^`]*)` \|", doc, re.M)
    assert len(paths) >= 3, "docs/proofing.md no longer lists the paths pinned to a case's instance"
    return paths


@pytest.mark.parametrize("case", ["kX3_q-9Z", "0123456789abcdef"])
def test_every_request_of_one_video_call_reaches_one_instance(case):
    pattern = call_pattern()
    for path in proofing_paths():
        m = pattern.fullmatch(path.replace("<case>", case))
        assert m is not None and m.group(1) == case, path
    handle = nested(site(), "handle", "@call")
    assert ["request_header", "X-Idgw-Case", "{re.call.1}"] in handle
    assert ["lb_policy", "header", "X-Idgw-Case"] in nested(handle, "reverse_proxy")


@pytest.mark.parametrize("path", ["/proofing/queue", "/officer/case/x/decide", "/proofing/ws/a/b", "/token",
                                  "/officer/case/x/compare/more", "/proofing/ws/"])
def test_other_requests_are_not_pinned(path):
    assert call_pattern().fullmatch(path) is None
    handle = nested(site(), "handle", exact=True)
    assert ["lb_policy", "round_robin"] in nested(handle, "reverse_proxy")
    # a client cannot choose its instance by sending the header itself
    assert ["request_header", "-X-Idgw-Case"] in handle


# --- no instance can answer -------------------------------------------------------------------------

def unavailable() -> list[list[str]]:
    errors_block = nested(site(), "handle_errors", exact=True)
    assert ["@unavailable", "expression", "{err.status_code} in [502, 503, 504]"] in errors_block
    return nested(errors_block, "handle", "@unavailable", exact=True)


def test_with_no_instance_answering_the_proxy_answers_as_the_gateway_does_in_an_outage():
    from starlette.requests import Request

    from idgw.web import errors

    block = unavailable()
    assert ["header", "Retry-After", str(errors.RETRY_AFTER)] in block
    assert ["header", "Cache-Control", "no-store"] in block
    # machine endpoints: the gateway's own JSON answer, byte for byte
    gateway = errors.unavailable_answer(None, Request({"type": "http", "method": "POST", "path": "/token",
                                                       "query_string": b"", "headers": []}))
    snippet = blocks()["(unavailable_json)"]
    (respond,) = [t for t in snippet if t[0] == "respond"]
    assert json.loads(respond[1]) == json.loads(gateway.body) and respond[2] == "503"
    assert ["header", "Content-Type", "application/json"] in snippet
    for matcher in ("@machine", "@wants_json"):
        assert ["import", "unavailable_json"] in nested(block, "handle", matcher, exact=True)
    # people: the outage page's words in Thai and English
    page = nested(block, "handle", exact=True)
    (respond,) = [t for t in page if t[0] == "respond"]
    assert respond[-1] == "503"
    from idgw.web.i18n import t

    for key in ("unavailable_title", "unavailable_body", "unavailable_post"):
        assert t(key, "th") in respond[1] and t(key, "en") in respond[1], key


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke", "/userinfo", "/jwks.json",
                                  "/.well-known/openid-configuration", "/webauthn/options", "/openapi.json",
                                  "/upstream/ndid/ndid-callback/abc", "/interaction/abc/status", "/authorize",
                                  "/interaction/abc/password", "/login", "/account", "/", "/proofing/ws/x",
                                  "/upstream/thaid/callback", "/interaction/abc/status/x"])
def test_the_proxy_tells_machine_paths_as_the_gateway_does(path):
    from idgw.web.errors import machine_path

    (matcher,) = [t for t in unavailable() if t[:1] == ["@machine"]]
    assert matcher[1:3] == ["path_regexp", "machine"]
    assert bool(re.search(matcher[3], path)) == machine_path(path)


def test_the_proxy_request_id_is_one_the_gateway_believes():
    """Caddy's {http.request.uuid} is a UUID in its text form; the gateway keeps a trusted proxy's id
    only if it has that shape (anything else and it makes its own, losing the link between logs)."""
    import uuid

    from idgw.observe.forwarded import forwarded_request_id

    sample = str(uuid.uuid4())
    assert forwarded_request_id([(b"x-request-id", sample.encode())]) == sample
