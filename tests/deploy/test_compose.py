"""docker-compose.yml without a docker engine: valid against the Compose Specification's JSON schema
once interpolated from the env file, refused while a secret is missing, and holding the promises
the schema cannot check (start order, trust of the proxy alone, no literal secret, pinned images,
a drain that fits in the stop grace period, monitoring wired to the gateways)."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import subprocess

import jsonschema
import pytest
import yaml

from tests.deploy.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    SCHEMA,
    InterpolationError,
    container_argv,
    filled_example,
    interpolate_text,
    load_compose,
    raw_compose,
    read_env_file,
    required_empty,
    schema,
)

COMPOSE_TEXT = COMPOSE_FILE.read_text(encoding="utf-8")
#: The gateway instances: every service named gateway-N (docs/operations.md, "Scale out"); the
#: proxy, Prometheus and the checks below follow whatever this list holds.
GATEWAYS = tuple(sorted(name for name in yaml.safe_load(COMPOSE_TEXT)["services"] if name.startswith("gateway-")))
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$")
REQUIRED_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?[^}]*\}")


def config() -> dict:
    return load_compose(filled_example())


def strings(node) -> list[str]:
    """Every string value of the parsed (not interpolated) compose file: what compose interpolates
    (comments and keys are not)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    return []


def required_variables() -> set[str]:
    return {name for text in strings(raw_compose()) for name in REQUIRED_REF.findall(text)}


def errors(document: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


# --- the schema -------------------------------------------------------------------------------------

def test_the_vendored_schema_is_the_one_its_provenance_names():
    note = SCHEMA.with_name("compose-spec.SOURCE.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    assert digest in note, "compose-spec.json changed: update compose-spec.SOURCE.md (source, commit, checksum)"
    jsonschema.Draft7Validator.check_schema(schema())


def test_the_compose_file_is_valid_against_the_compose_specification():
    assert errors(config()) == []


@pytest.mark.parametrize("mistake", [
    lambda c: c["services"]["gateway-1"]["depends_on"]["migrate"].update(condition="service_ready"),
    lambda c: c["services"]["proxy"].update(restart_policy="always"),
    lambda c: c["services"]["db"].update(healthcheck={"test": ["CMD", "true"], "frequency": "5s"}),
    lambda c: c.update(service={}),
])
def test_the_schema_check_is_not_vacuous(mistake):
    document = config()
    mistake(document)
    assert errors(document), "the schema accepted a compose file that docker compose refuses"


# --- interpolation ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "env", "expected"), [
    ("${A}", {"A": "x"}, "x"),
    ("$A/$B", {"A": "x", "B": "y"}, "x/y"),
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${A-d}", {}, "d"),
    ("${A:+r}", {"A": "x"}, "r"),
    ("${A:+r}", {"A": ""}, ""),
    ("${A+r}", {"A": ""}, "r"),
    ("${A:-${B}}", {"B": "b"}, "b"),
    ("$${A} costs $$5", {"A": "x"}, "${A} costs $5"),
    ("${A:?need A}", {"A": "ok"}, "ok"),
    ("${A?need A}", {"A": ""}, ""),
    ("${MISSING}", {}, ""),
])
def test_interpolation_follows_the_compose_specification(text, env, expected):
    problems: list = []
    assert interpolate_text(text, env, problems) == expected
    assert problems == []


@pytest.mark.parametrize(("text", "env"), [("${A:?need A}", {}), ("${A:?need A}", {"A": ""}), ("${A?need A}", {})])
def test_a_missing_required_variable_is_an_error(text, env):
    problems: list = []
    interpolate_text(text, env, problems)
    assert problems == [("A", "need A")]


def test_an_invalid_interpolation_is_an_error():
    with pytest.raises(ValueError, match="invalid interpolation"):
        interpolate_text("costs $5", {}, [])


def test_an_unedited_copy_of_the_example_is_refused_naming_every_empty_secret():
    example = read_env_file(ENV_EXAMPLE)
    with pytest.raises(InterpolationError) as refused:
        load_compose(example)
    required = required_variables()
    assert set(refused.value.names) == required
    assert required <= set(required_empty(example)), "a required variable has a value in the example"
    assert {"IDGW_SECRET_KEY", "IDGW_DB_PASSWORD", "IDGW_METRICS_TOKEN", "IDGW_TURN_SECRET",
            "IDGW_PUBLIC_HOST", "IDGW_TLS"} <= required


@pytest.mark.parametrize("name", sorted(required_variables()))
def test_each_required_variable_alone_stops_compose(name):
    with pytest.raises(InterpolationError) as refused:
        load_compose(filled_example(**{name: ""}))
    assert refused.value.names == [name]
    assert "deploy/idgw.env" in str(refused.value)  # the message says where to set it


def test_every_variable_the_compose_file_reads_is_in_the_example():
    documented = set(read_env_file(ENV_EXAMPLE))
    documented |= set(re.findall(r"^#\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    text = "\n".join(strings(raw_compose())).replace("$$", "")
    used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
    assert {"IDGW_SECRET_KEY", "IDGW_IMAGE"} <= used
    assert used - documented == set()


def test_the_real_env_file_is_never_committed():
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/idgw.env"], cwd=ROOT)
    assert ignored.returncode == 0
    for service in GATEWAYS:
        assert raw_compose()["services"][service]["env_file"] == "deploy/idgw.env"


# --- start order --------------------------------------------------------------------------------

def depends(service: dict) -> dict[str, str]:
    value = service.get("depends_on", {})
    if isinstance(value, list):
        return dict.fromkeys(value, "service_started")
    return {name: spec["condition"] for name, spec in value.items()}


def test_start_order_db_then_migrate_then_gateways_then_proxy():
    services = config()["services"]
    assert depends(services["migrate"]) == {"db": "service_healthy"}
    assert "healthcheck" in services["db"] and "pg_isready" in services["db"]["healthcheck"]["test"]
    gateways = sorted(name for name in services if name.startswith("gateway-"))
    assert gateways == list(GATEWAYS) and len(gateways) >= 2  # two at least: one may restart at a time
    for name in gateways:
        assert depends(services[name]) == {"migrate": "service_completed_successfully"}
    assert depends(services["proxy"]) == dict.fromkeys(gateways, "service_healthy")
    assert services["migrate"].get("restart") == "no"  # a one-shot job, not restarted after exit 0


def test_the_migrate_job_upgrades_and_the_gateways_never_migrate():
    services = config()["services"]
    assert container_argv(services["migrate"]) == ["idgw", "db", "upgrade"]
    for name in GATEWAYS:
        argv = container_argv(services[name])
        assert argv[:2] == ["idgw", "serve"] and "--no-migrate" in argv
        # video calls: one process per instance, instances scaled out (docs/proofing.md)
        assert argv[argv.index("--workers") + 1] == "1"
        assert argv[argv.index("--port") + 1] == "8000"
        assert services[name]["restart"] == "unless-stopped"


def test_gateways_report_ready_to_compose_and_drain_within_the_grace_period():
    services = config()["services"]
    for name in GATEWAYS:
        gateway = services[name]
        probe = " ".join(gateway["healthcheck"]["test"])
        assert "/readyz" in probe and "127.0.0.1:8000" in probe
        grace = int(gateway["stop_grace_period"].removesuffix("s"))
        assert grace > int(gateway["environment"]["IDGW_SHUTDOWN_TIMEOUT"]) + 5


# --- trust, secrets, exposure ----------------------------------------------------------------------

def test_the_gateways_trust_the_proxy_address_alone():
    document = config()
    services, networks = document["services"], document["networks"]
    proxy_address = services["proxy"]["networks"]["edge"]["ipv4_address"]
    subnet = ipaddress.ip_network(networks["edge"]["ipam"]["config"][0]["subnet"])
    assert ipaddress.ip_address(proxy_address) in subnet
    for name in GATEWAYS:
        assert services[name]["environment"]["IDGW_TRUSTED_PROXIES"] == proxy_address
        assert "edge" in services[name]["networks"]
    # nobody else can take the proxy's address
    for name, service in services.items():
        nets = service.get("networks", {})
        if name != "proxy" and isinstance(nets, dict):
            assert all((spec or {}).get("ipv4_address") != proxy_address for spec in nets.values())


def test_no_service_holds_a_literal_secret():
    for name, service in raw_compose()["services"].items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            value = str(value)
            if SECRET_NAME.search(key) or re.search(r"://[^/@]*:[^/@]*@", value):
                # only from the env file, and never with a fallback value
                assert REQUIRED_REF.search(value) and not re.search(r"\$\{[^}]*:?-", value), (name, key)
        command = service.get("command") or ""
        for flag in re.findall(r"--[a-z-]*secret[a-z-]*=(\$\{[^}]*\}|\S+)",
                               " ".join(command) if isinstance(command, list) else command):
            assert REQUIRED_REF.fullmatch(flag), (name, flag)
    # and the interpolated file carries what the env file says, nothing of its own
    env = filled_example()
    services = load_compose(env)["services"]
    assert services["gateway-1"]["environment"]["IDGW_SECRET_KEY"] == env["IDGW_SECRET_KEY"]
    assert f":{env['IDGW_DB_PASSWORD']}@db:5432/" in services["gateway-2"]["environment"]["IDGW_DATABASE_URL"]
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == env["IDGW_DB_PASSWORD"]


def test_only_the_proxy_and_coturn_are_published_and_monitoring_only_on_loopback():
    services = config()["services"]
    for name in ("db", "migrate", *GATEWAYS):
        assert "ports" not in service_or_empty(services, name), name
    assert sorted(p.split(":")[0] for p in services["proxy"]["ports"]) == ["443", "443", "80"]
    for name in ("prometheus", "grafana"):
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"]), name
        assert services[name]["profiles"] == ["monitoring"]


def service_or_empty(services: dict, name: str) -> dict:
    return services.get(name, {})


def test_coturn_never_relays_to_the_docker_host():
    document = config()
    subnet = ipaddress.ip_network(document["networks"]["edge"]["ipam"]["config"][0]["subnet"])
    host = next(subnet.hosts())  # docker's bridge address on the network: the host itself
    denied = re.findall(r"--denied-peer-ip=(\S+)", document["services"]["coturn"]["command"])
    assert str(host) in denied
    for flag in ("--no-tcp-relay", "--no-multicast-peers", "--use-auth-secret", "--no-cli"):
        assert flag in document["services"]["coturn"]["command"]


def test_the_database_is_on_an_internal_network_coturn_cannot_reach():
    document = config()
    services, networks = document["services"], document["networks"]
    assert networks["backend"]["internal"] is True
    assert services["db"]["networks"] == ["backend"]
    assert "backend" not in services["coturn"]["networks"]
    assert "backend" not in services["proxy"]["networks"]


def test_containers_run_hardened():
    services = config()["services"]
    for name in ("migrate", *GATEWAYS, "proxy"):
        service = services[name]
        assert service["read_only"] is True and service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_images_are_pinned_to_exact_versions():
    services = config()["services"]
    project_version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.partition("@")[0].rpartition(":")
        assert "@sha256:" in image or re.fullmatch(r"v?\d+\.\d+(\.\d+)?([.-][\w.-]+)?", tag), (name, image)
        assert tag != "latest", (name, image)
    # the gateway image built here is tagged with the project's version
    assert services["gateway-1"]["image"] == f"idgw:{project_version}"
    assert services["gateway-1"]["image"] == services["migrate"]["image"] == services["gateway-2"]["image"]
    assert re.fullmatch(r"16\.\d+(-\w+)?", services["db"]["image"].split(":")[1])


# --- monitoring ------------------------------------------------------------------------------------

def test_prometheus_scrapes_every_gateway_with_the_token_secret():
    document = config()
    services = document["services"]
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    assert targets == {f"{name}:8000" for name in GATEWAYS}
    assert job["metrics_path"] == "/metrics"
    (secret,) = services["prometheus"]["secrets"]
    assert job["authorization"]["credentials_file"] == f"/run/secrets/{secret}"
    assert document["secrets"][secret] == {"environment": "IDGW_METRICS_TOKEN"}
    assert "backend" in services["prometheus"]["networks"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"] if v.startswith("./")}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus.yml"


def test_grafana_loads_the_dashboard_from_the_repository():
    services = config()["services"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"] if v.startswith("./")}
    for source in mounts.values():
        assert (ROOT / source).exists(), source
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/idgw.yml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    assert any(target.startswith(folder + "/") and source.endswith(".json") for target, source in mounts.items())
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
