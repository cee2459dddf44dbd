"""The contract itself: citizen-ID checksum, level vocabulary, typed errors, the registry and
configuration errors naming the field. No network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from providers.base import (
    MESSAGES,
    ProviderConfigError,
    UpstreamError,
    UpstreamIdentity,
    normalise_level,
    valid_citizen_id,
)
from providers.ndid import NDIDUpstream
from providers.oidc import OIDCUpstream
from providers.registry import PROVIDER_TYPES, load_providers
from providers.simulators.citizens import DEMO_CITIZENS

from .conftest import ndid_config, oidc_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["1345951597671", "6000000000000", *[c["pid"] for c in DEMO_CITIZENS]])
def test_valid_citizen_ids(value):
    assert valid_citizen_id(value)


@pytest.mark.parametrize("value", ["3712644096692", "1345951597670", "0345951597671", "9000000000000",
                                   "134595159767", "13459515976710", "1345951597a71", "", None, 1345951597671])
def test_invalid_citizen_ids(value):
    assert not valid_citizen_id(value)


def test_levels_are_exact_vocabulary_strings_or_json_numbers():
    ial = ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3")
    aal = ("1", "2.1", "2.2", "3")
    assert normalise_level(2.3, ial) == "2.3"
    assert normalise_level(3, ial) == "3"
    assert normalise_level(3.0, ial) == "3"
    assert normalise_level(1, aal) == "1"
    assert normalise_level("2.2", aal) == "2.2"
    for bad in ("1.0", "IAL2", "3.0", 2.0, True, None, "2.30"):
        assert normalise_level(bad, ial) is None


def test_every_error_code_has_thai_and_english_messages():
    expected = {"upstream_unreachable", "upstream_timeout", "upstream_error", "state_mismatch", "nonce_mismatch",
                "invalid_signature", "invalid_issuer", "invalid_citizen_id", "ial_too_low", "aal_too_low",
                "rejected", "timed_out", "complicated", "errored", "bad_configuration", "unknown_idp",
                "idp_max_exceeded"}
    assert set(MESSAGES) == expected
    for code in expected:
        error = UpstreamError(code, "detail for logs")
        assert error.code == code and error.detail == "detail for logs"
        assert any("\u0e00" <= ch <= "\u0e7f" for ch in error.message_th)  # Thai script
        assert error.message_en.isascii() and error.message_en
    with pytest.raises(ValueError):
        UpstreamError("something_else")


def test_identity_is_frozen():
    identity = UpstreamIdentity(provider="p", issuer="i", subject="s", citizen_id="6000000000000", claims={},
                                ial="2.3", aal="2.2", amr=("mfa",), auth_time=1, raw_levels={})
    with pytest.raises(AttributeError):
        identity.ial = "3"


def test_registry_is_explicit_and_loads_both_types():
    assert PROVIDER_TYPES == {"oidc": OIDCUpstream, "ndid": NDIDUpstream}
    loaded = load_providers(config=[oidc_config("https://thaid.example"), ndid_config("http://127.0.0.1:1")])
    assert list(loaded) == ["thaid", "ndid"]
    assert loaded["thaid"].mode == "redirect" and loaded["thaid"].type == "oidc"
    assert loaded["ndid"].mode == "async" and loaded["ndid"].type == "ndid"
    assert loaded["thaid"].display_name == {"th": "ไทยดี", "en": "ThaiD"}
    assert loaded["ndid"].request_mode == 2 and loaded["ndid"].min_idp == 1 and loaded["ndid"].namespace == "citizen_id"
    assert loaded["ndid"].poll_interval == 3 and loaded["ndid"].idp_catalogue_ttl == 300
    assert "secret" not in repr(loaded["thaid"])


def _error(config) -> str:
    with pytest.raises(ProviderConfigError) as caught:
        load_providers(config=config)
    return str(caught.value)


def test_unknown_provider_type_is_refused():
    assert _error([{"name": "x", "type": "saml", "display_name": {"th": "x", "en": "x"}}]).startswith(
        "providers[0].type: unknown provider type 'saml'")
    assert _error([{"name": "x", "display_name": {"th": "x", "en": "x"}}]) == "providers[0].type: missing"


@pytest.mark.parametrize(("index", "change", "message"), [
    (1, {"client_secret": None}, "providers[1].client_secret: missing"),
    (1, {"client_id": ""}, "providers[1].client_id: must be a non-empty string"),
    (1, {"issuer": "http://thaid.example"}, "providers[1].issuer: must use https"),
    (1, {"issuer": "ftp://thaid.example"}, "providers[1].issuer: must be an absolute https URL"),
    (1, {"trusted_aal": None}, "providers[1].trusted_aal: missing"),
    (1, {"trusted_aal": "AAL2"}, "providers[1].trusted_aal: 'AAL2' is not one of"),
    (1, {"ial_mapping": {"2.3": "IAL2"}}, "providers[1].ial_mapping.2.3: 'IAL2' is not one of"),
    (1, {"claim_mapping": {"citizen_id": "sub"}}, "providers[1].claim_mapping.citizen_id: must not be sub"),
    (1, {"claim_mapping": {"email": "email"}}, "providers[1].claim_mapping.email: unknown"),
    (1, {"max_clock_skew": 3600}, "providers[1].max_clock_skew: must be between 0 and 300"),
    (1, {"timeout_seconds": 0}, "providers[1].timeout_seconds: must be between"),
    (1, {"scope": "pid"}, "providers[1].scope: must include openid"),
    (1, {"client_secrte": "x"}, "providers[1].client_secrte: unknown field"),
    (1, {"display_name": {"th": "ไทยดี"}}, "providers[1].display_name.en: missing"),
    (1, {"name": "Thai D"}, "providers[1].name: must match"),
    (0, {"mode": 4}, "providers[0].mode: must be between 1 and 3"),
    (0, {"mode": 1}, "providers[0].idp_id_list: required (non-empty) in mode 1"),
    (0, {"request_timeout": 0}, "providers[0].request_timeout: must be between 1 and"),
    (0, {"min_idp": 0}, "providers[0].min_idp: must be between 1 and"),
    (0, {"idp_id_list": ["a"], "min_idp": 2}, "providers[0].min_idp: larger than"),
    (0, {"api_base": None}, "providers[0].api_base: missing"),
    (0, {"api_base": "rp-node:8200"}, "providers[0].api_base: must be an absolute"),
    (0, {"idp_id_list": "idp-bank-a"}, "providers[0].idp_id_list: must be a list"),
    (0, {"poll_interval": 0}, "providers[0].poll_interval: must be between 0.1 and 300"),
    (0, {"poll_interval": "3"}, "providers[0].poll_interval: must be a number"),
    (0, {"idp_catalogue_ttl": -1}, "providers[0].idp_catalogue_ttl: must be between 0 and 86400"),
])
def test_invalid_configuration_names_the_field(index, change, message):
    config = [ndid_config("http://127.0.0.1:8200"), oidc_config("https://thaid.example")]
    config[index] = {k: v for k, v in {**config[index], **change}.items() if v is not None}
    assert _error(config).startswith(message)


def test_duplicate_names_and_non_mapping_entries_are_refused():
    assert _error([oidc_config("https://a.example"), oidc_config("https://b.example")]).startswith(
        "providers[1].name: duplicate provider name 'thaid'")
    assert _error(["thaid"]) == "providers[0]: must be a mapping"
    assert _error({"thaid": {}}) == "providers: must be a list"


def test_loopback_http_and_allow_http():
    load_providers(config=[oidc_config("http://127.0.0.1:8100")])
    load_providers(config=[oidc_config("http://thaid-sim:8100", allow_http=True)])


def test_package_is_a_leaf_and_import_light():
    offenders = subprocess.run(["grep", "-rnE", r"^\s*(from|import) (idgw|policies|face_check)", "providers"],
                               cwd=ROOT, capture_output=True, text=True).stdout
    assert offenders == ""
    probe = "import sys, providers; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in " \
            "('httpx', 'fastapi', 'authlib', 'joserfc', 'idgw'))))"
    out = subprocess.run([sys.executable, "-c", "import json; " + probe], cwd=ROOT, capture_output=True, text=True)
    assert json.loads(out.stdout) == []


def test_simulators_cli_help():
    out = subprocess.run([sys.executable, "-m", "providers.simulators", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and "--thaid-port" in out.stdout and "--ndid-port" in out.stdout
