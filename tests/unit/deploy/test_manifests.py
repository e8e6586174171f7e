"""deploy/ checked statically (no Docker engine here): the files parse, name what they must,
and every environment variable they set exists in the Settings class it is meant for."""

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from console.config import Settings as ConsoleSettings
from invoice_events.config import Settings as InvoiceEventsSettings
from sync_log.config import Settings as SyncLogSettings
from xero_connector.config import Settings as XeroConnectorSettings
from xero_sandbox.config import Settings as XeroSandboxSettings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S_FILES = sorted((DEPLOY / "k8s").glob("*.yaml"))
SERVICES = ("invoice-events", "xero-connector", "sync-log")
SETTINGS: dict[str, type[BaseSettings]] = {
    "invoice-events": InvoiceEventsSettings,
    "xero-connector": XeroConnectorSettings,
    "sync-log": SyncLogSettings,
    "xero-sandbox": XeroSandboxSettings,
    "console": ConsoleSettings,
}


def env_names(settings: type[BaseSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in settings.model_fields}


def prefix_of(service: str) -> str:
    return str(SETTINGS[service].model_config["env_prefix"])


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    return loaded


def k8s_docs() -> list[dict[str, Any]]:
    return [d for f in K8S_FILES for d in yaml.safe_load_all(f.read_text()) if d]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_docs() if d["kind"] == kind]


def containers() -> list[tuple[str, dict[str, Any]]]:
    return [
        (d["metadata"]["name"], c)
        for d in of_kind("Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
    ]


def service_of(container: dict[str, Any]) -> str:
    return str(container["name"])


# -- parsing and shape ------------------------------------------------------------------------
def test_every_yaml_file_parses() -> None:
    assert K8S_FILES
    compose()
    for file in K8S_FILES:
        assert list(yaml.safe_load_all(file.read_text())), file


def test_compose_names_the_stack_with_health_checks() -> None:
    services = compose()["services"]
    assert {"kafka", "mongodb", *SERVICES, "xero-sandbox"} <= set(services)
    assert services["mongodb"]["image"] == "mongo:7"
    kafka_env = services["kafka"]["environment"]
    assert "controller" in kafka_env["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert services["xero-sandbox"]["profiles"] == ["dev"]
    for name, service in services.items():
        assert "test" in service["healthcheck"], name
    for name in SERVICES:
        test = " ".join(services[name]["healthcheck"]["test"])
        assert "/readyz" in test, name
        assert services[name]["build"]["context"] == ".."
        assert services[name]["build"]["dockerfile"] == f"deploy/docker/{name}.Dockerfile"
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(services["xero-sandbox"]["healthcheck"]["test"])


def test_compose_sets_every_api_key_to_the_dev_key() -> None:
    services = compose()["services"]
    for name in SERVICES:
        env = services[name]["environment"]
        assert env[f"{prefix_of(name)}API_KEYS"] == "${DEV_API_KEY:-dev-key}"


def test_every_deployment_names_an_image_probes_and_resources() -> None:
    found = containers()
    assert {service_of(c) for _, c in found} == {*SERVICES, "console"}
    for deployment, container in found:
        assert container["image"].startswith("xero-sync/"), deployment
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", deployment
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", deployment
        for level in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][level]), deployment
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_every_deployment_has_a_service_that_selects_it() -> None:
    services = of_kind("Service")
    for deployment in of_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") == "consumer":
            continue  # the sync-log consumer serves no traffic
        assert any(s["spec"]["selector"].items() <= labels.items() for s in services), deployment[
            "metadata"
        ]["name"]


def test_sync_log_runs_as_api_and_consumer_deployments() -> None:
    switches = {}
    for name, container in containers():
        if service_of(container) == "sync-log":
            env = {e["name"]: e.get("value") for e in container["env"]}
            switches[name] = (env["SYNC_LOG_API_ENABLED"], env["SYNC_LOG_CONSUMER_ENABLED"])
    assert switches == {"sync-log-api": ("true", "false"), "sync-log-consumer": ("false", "true")}


def test_the_connector_scales_on_consumer_lag_up_to_the_partition_count() -> None:
    (scaled,) = of_kind("ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "xero-connector"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == "xero-connector"
    assert trigger["metadata"]["topic"] == "invoices.events"
    assert int(trigger["metadata"]["lagThreshold"]) > 0
    config = next(
        c for c in of_kind("ConfigMap") if c["metadata"]["name"] == "xero-connector-config"
    )
    partitions = int(config["data"]["XERO_CONNECTOR_TOPIC_PARTITIONS"])
    assert scaled["spec"]["maxReplicaCount"] == partitions == 12
    # The group KEDA watches is the one the connector joins (once its pipeline has one).
    if group := XeroConnectorSettings.model_fields.get("consumer_group"):
        assert group.default == "xero-connector"


def test_a_real_cluster_replicates_topics_three_ways() -> None:
    for config in of_kind("ConfigMap"):
        if not any(k.endswith("_KAFKA_BOOTSTRAP_SERVERS") for k in config["data"]):
            continue  # the console uses no Kafka
        factor = [v for k, v in config["data"].items() if k.endswith("_TOPIC_REPLICATION_FACTOR")]
        assert factor == ["3"], config["metadata"]["name"]


# -- config and secrets -------------------------------------------------------------------------
def test_secrets_come_from_secrets_and_config_from_config_maps() -> None:
    secret_keys = {k for s in of_kind("Secret") for k in s["stringData"]}
    config_maps = {c["metadata"]["name"] for c in of_kind("ConfigMap")}
    secret_like = re.compile(
        r"(API_KEYS|API_KEY|TOKEN_KEYS|CLIENT_SECRET|MONGODB_URI|CONSOLE_USERS|SESSION_SECRET)$"
    )
    for deployment, container in containers():
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] in config_maps, deployment
        for entry in container.get("env", []):
            if secret_like.search(entry["name"]):
                ref = entry["valueFrom"]["secretKeyRef"]
                assert ref["key"] in secret_keys, (deployment, entry["name"])
    for config in of_kind("ConfigMap"):
        assert not [k for k in config["data"] if secret_like.search(k)], config["metadata"]


# -- drift: every variable set exists in its Settings class --------------------------------------
def k8s_env() -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    maps = {c["metadata"]["name"]: c["data"] for c in of_kind("ConfigMap")}
    for _, container in containers():
        service = service_of(container)
        pairs += [(service, e["name"]) for e in container.get("env", [])]
        for source in container.get("envFrom", []):
            pairs += [(service, k) for k in maps[source["configMapRef"]["name"]]]
    return pairs


def compose_env() -> list[tuple[str, str]]:
    services = compose()["services"]
    return [(name, var) for name in SETTINGS for var in services[name]["environment"]]


@pytest.mark.parametrize("source", ["k8s", "compose"])
def test_every_variable_set_is_a_setting_of_that_service(source: str) -> None:
    pairs = k8s_env() if source == "k8s" else compose_env()
    assert pairs
    unknown = [(s, var) for s, var in pairs if var not in env_names(SETTINGS[s])]
    assert unknown == [], "not a field of the service's Settings (typo or drift)"


def test_the_drift_check_catches_a_misspelt_variable() -> None:
    assert "SYNC_LOG_API_ENABLED" in env_names(SyncLogSettings)
    assert "SYNC_LOG_API_ENABLE" not in env_names(SyncLogSettings)
    assert "XERO_CONNECTOR_TOKEN_KEYS" in env_names(XeroConnectorSettings)


# -- Dockerfiles ------------------------------------------------------------------------------
DOCKERFILES = sorted((DEPLOY / "docker").glob("*.Dockerfile"))


def test_one_dockerfile_per_service() -> None:
    assert {f.name.removesuffix(".Dockerfile") for f in DOCKERFILES} == set(SETTINGS)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda f: f.name)
def test_dockerfile_runs_as_non_root_after_a_dependency_layer(dockerfile: Path) -> None:
    lines = [line.strip() for line in dockerfile.read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the final stage must run as non-root"
    copies = [line for line in lines if line.startswith("COPY ")]
    lock = next(i for i, c in enumerate(copies) if "uv.lock" in c)
    first_source = next(i for i, c in enumerate(copies) if re.search(r"COPY \S+/ \S+/$", c))
    assert lock < first_source, "uv.lock (the dependency layer) comes before any source"
    syncs = [line for line in lines if "uv sync" in line]
    assert "--no-install-workspace" in syncs[0] and "--frozen" in syncs[0]
    assert (dockerfile.parent / f"{dockerfile.name}.dockerignore").is_file()


def _render_module() -> Any:
    spec = importlib.util.spec_from_file_location("render", DEPLOY / "docker" / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dockerfiles_are_rendered_from_the_template_with_every_workspace_member() -> None:
    render = _render_module()
    for dockerfile in DOCKERFILES:
        service = dockerfile.name.removesuffix(".Dockerfile")
        assert dockerfile.read_text() == render.render(service), (
            f"{dockerfile.name} is stale: run python deploy/docker/render.py"
        )
    for member in render.members():
        assert f"COPY {member}/pyproject.toml" in DOCKERFILES[0].read_text()


def test_make_up_and_down_use_the_compose_file() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("up", "down"):
        body = makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]
        assert "docker compose -f deploy/compose.yml" in body, target
