"""deploy/: every overlay renders, validates against Kubernetes 1.33 with strict schemas, and
keeps the rules every workload must follow (probes, limits, PDB, HPA, network policy, non-root,
read-only root filesystem) and the shape of the engines (3 PostgreSQL instances, 3 NATS servers,
R3 streams)."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from distribution.config import DistributionSettings
from gateway.config import GatewaySettings
from identity.config import IdentitySettings
from kabinet import event_metrics
from kabinet.config import describe
from subscription.config import SubscriptionSettings
from support.config import SupportSettings
from tests.deploy import kustomize
from tests.deploy.kustomize import DEPLOY, OVERLAYS

KUBERNETES = "1.33.0"
# Custom resources: no schema in kubernetes-validate; their key fields are checked below.
CUSTOM_KINDS = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
SERVICE_PORTS = {"identity": 50051, "subscription": 50052, "distribution": 50053, "support": 50054}
SETTINGS = {
    "identity": IdentitySettings,
    "subscription": SubscriptionSettings,
    "distribution": DistributionSettings,
    "support": SupportSettings,
    "gateway": GatewaySettings,
}
# Settings a process does not need in a cluster: the gateway keeps no data and sends no mail;
# the mailbox page is for `make run` only.
NOT_NEEDED = {"gateway": {"KABINET_DATABASE_URL", "KABINET_SMTP_URL", "KABINET_MAILBOX_DIR"}}

Resource = dict[str, Any]


def _of(resources: list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def _one(resources: list[Resource], kind: str, name: str) -> Resource:
    (found,) = [r for r in _of(resources, kind) if r["metadata"]["name"] == name]
    return found


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions In/Exists)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        if operator == "In" and labels.get(key) not in expression["values"]:
            return False
        if operator == "NotIn" and labels.get(key) in expression["values"]:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_validates_against_kubernetes_with_strict_schemas(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    resources = rendered[overlay]
    assert len(resources) > 30
    checked = 0
    for resource in resources:
        if (resource["apiVersion"], resource["kind"]) in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(resource, KUBERNETES, strict=True)
        checked += 1
    assert checked > 30


def test_strict_validation_refuses_what_the_api_server_would() -> None:
    broken = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"name": "grpc", "targetPort": 1}], "selectr": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_python_rendering_is_what_kubectl_kustomize_builds(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    theirs = [d for d in yaml.safe_load_all(built) if d]

    def key(r: Resource) -> tuple[str, str, str, str]:
        meta = r["metadata"]
        return (r["apiVersion"], r["kind"], meta.get("namespace", ""), meta["name"])

    assert sorted(map(key, rendered[overlay])) == sorted(map(key, theirs))
    ours = {key(r): r for r in rendered[overlay]}
    for resource in theirs:
        assert ours[key(resource)] == resource, key(resource)


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Any) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(kustomize.KustomizeError, match="commonLabels"):
        kustomize.render(tmp_path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_follows_the_workload_rules(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    resources = rendered[overlay]
    deployments = _of(resources, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} >= {*SERVICE_PORTS, "gateway"}
    policies = _of(resources, "NetworkPolicy")
    assert any(p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] for p in policies), (
        "no default-deny policy"
    )
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        template = deployment["spec"]["template"]
        labels = template["metadata"]["labels"]
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in container, f"{where}: no {probe}"
            resources_ = container["resources"]
            assert {"cpu", "memory"} <= set(resources_["requests"]), where
            assert {"cpu", "memory"} <= set(resources_["limits"]), where
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1], where
            assert not image.endswith(":latest"), where
        hpas = [
            h
            for h in _of(resources, "HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"]
            == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        assert hpas, f"{name}: no HorizontalPodAutoscaler"
        assert "replicas" not in deployment["spec"], f"{name}: the HPA owns the replica count"
        assert any(
            _selects(p["spec"]["selector"], labels) for p in _of(resources, "PodDisruptionBudget")
        ), f"{name}: no PodDisruptionBudget"
        assert any(
            p["spec"]["podSelector"] != {}
            and p["spec"].get("ingress")
            and _selects(p["spec"]["podSelector"], labels)
            for p in policies
        ), f"{name}: no NetworkPolicy opens it"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_are_probed_over_grpc_and_the_gateway_over_http(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    for name, port in SERVICE_PORTS.items():
        (container,) = _one(rendered[overlay], "Deployment", name)["spec"]["template"]["spec"][
            "containers"
        ]
        assert container["command"] == ["python", "-m", name]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["grpc"]["port"] == port
        listen = {e["name"]: e.get("value") for e in container["env"]}
        assert listen[f"KABINET_{name.upper()}_ADDR"] == f"0.0.0.0:{port}"
    (gateway,) = _one(rendered[overlay], "Deployment", "gateway")["spec"]["template"]["spec"][
        "containers"
    ]
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # /readyz fails while any one service is down: as a readiness probe it would take every
    # gateway replica out of the Service together.
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/healthz"


def _environment(resources: list[Resource], container: dict[str, Any]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        config = _one(resources, "ConfigMap", source["configMapRef"]["name"])
        names |= set(config["data"])
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_a_process_reads_is_given_to_it(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    for name, settings in SETTINGS.items():
        (container,) = _one(rendered[overlay], "Deployment", name)["spec"]["template"]["spec"][
            "containers"
        ]
        wanted = {env for env, _, _ in describe(settings)} - NOT_NEEDED.get(name, set())
        missing = wanted - _environment(rendered[overlay], container)
        assert not missing, f"{name}: {sorted(missing)}"


def _values(resources: list[Resource], container: dict[str, Any]) -> dict[str, str]:
    """The plain values a container gets from its ConfigMaps and ``env`` (not Secrets)."""
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values |= _one(resources, "ConfigMap", source["configMapRef"]["name"])["data"]
    values |= {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    return values


# Settings that are secrets: never in a ConfigMap, always from a Secret.
SECRET_SETTINGS = {
    "KABINET_DATABASE_URL",
    "KABINET_SMTP_URL",
    "KABINET_IDENTITY_GOOGLE_CLIENT_SECRET",
    "KABINET_IDENTITY_FACEBOOK_CLIENT_SECRET",
    "KABINET_IDENTITY_YANDEX_CLIENT_SECRET",
    "KABINET_DISTRIBUTION_LINK_SECRET",
    "KABINET_OBJECTSTORE_S3_ACCESS_KEY_ID",
    "KABINET_OBJECTSTORE_S3_SECRET_ACCESS_KEY",
    "KABINET_PAYMENTS_SANDBOX_API_KEY",
    "KABINET_PAYMENTS_WEBHOOK_SECRET",
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_from_secrets(rendered: dict[str, list[Resource]], overlay: str) -> None:
    for config in _of(rendered[overlay], "ConfigMap"):
        for key in config["data"]:
            assert key not in SECRET_SETTINGS, key
    secret_names = {env for s in SETTINGS.values() for env, _, _ in describe(s)} & SECRET_SETTINGS
    assert secret_names == SECRET_SETTINGS, "a listed secret is no longer a setting"
    given = set()
    for name in SETTINGS:
        (container,) = _one(rendered[overlay], "Deployment", name)["spec"]["template"]["spec"][
            "containers"
        ]
        for env in container["env"]:
            if env["name"] in SECRET_SETTINGS:
                assert "value" not in env, env["name"]
                assert env["valueFrom"]["secretKeyRef"]["name"], env["name"]
                given.add(env["name"])
    assert given, "no process is given a secret setting at all"
    # Apple's private key is a file from a Secret volume, not a value.
    pod = _one(rendered[overlay], "Deployment", "identity")["spec"]["template"]["spec"]
    (identity,) = pod["containers"]
    key_file = _values(rendered[overlay], identity)["KABINET_IDENTITY_APPLE_PRIVATE_KEY_FILE"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (mount,) = [m for m in identity["volumeMounts"] if key_file.startswith(m["mountPath"] + "/")]
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["secret"]["secretName"] == "kabinet-identity-apple"
    for name in SERVICE_PORTS:
        (container,) = _one(rendered[overlay], "Deployment", name)["spec"]["template"]["spec"][
            "containers"
        ]
        env = {e["name"]: e for e in container["env"]}
        assert env["KABINET_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "kabinet-db-app",
            "key": "uri",
        }
        assert env["KABINET_SMTP_URL"]["valueFrom"]["secretKeyRef"]["name"] == "kabinet-smtp"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_as_one_job_named_after_the_release(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    (job,) = _of(rendered[overlay], "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["kabinet-admin", "migrate"]
    tag = container["image"].rsplit(":", 1)[1]
    assert job["metadata"]["name"] == f"kabinet-migrate-{tag.replace('.', '-')}"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_is_exposed_and_over_tls(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    (ingress,) = _of(rendered[overlay], "Ingress")
    (rule,) = ingress["spec"]["rules"]
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
    assert ingress["spec"]["tls"][0]["secretName"]
    backends = {p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert backends == {"gateway"}
    config = _one(rendered[overlay], "ConfigMap", "kabinet-common")["data"]
    assert config["KABINET_PUBLIC_URL"] == f"https://{rule['host']}"
    for service in _of(rendered[overlay], "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    policies = {p["metadata"]["name"]: p for p in _of(rendered[overlay], "NetworkPolicy")}
    (outside,) = policies["gateway-from-ingress"]["spec"]["ingress"]
    assert [p["port"] for p in outside["ports"]] == [8000]
    (inside,) = policies["services-from-kabinet"]["spec"]["ingress"]
    allowed = {"app.kubernetes.io/part-of": "kabinet", "app.kubernetes.io/component": "gateway"}
    assert _selects(inside["from"][0]["podSelector"], allowed)
    assert not _selects(inside["from"][0]["podSelector"], {"app.kubernetes.io/name": "x"})


def test_prod_runs_the_engines_replicated_three_times(rendered: dict[str, list[Resource]]) -> None:
    resources = rendered["prod"]
    cluster = _one(resources, "Cluster", "kabinet-db")
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["bootstrap"]["initdb"] == {"database": "kabinet", "owner": "kabinet"}
    assert cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    assert cluster["spec"]["affinity"]["podAntiAffinityType"] == "required"
    backup = _one(resources, "ScheduledBackup", "kabinet-db-nightly")
    assert backup["spec"]["cluster"]["name"] == "kabinet-db"

    nats = _one(resources, "StatefulSet", "nats")
    assert nats["spec"]["replicas"] == 3
    config = _one(resources, "ConfigMap", "nats-config")["data"]["nats.conf"]
    routes = re.findall(r"nats://(nats-\d)\.nats-headless:6222", config)
    assert routes == ["nats-0", "nats-1", "nats-2"]
    assert "jetstream {" in config
    common = _one(resources, "ConfigMap", "kabinet-common")["data"]
    assert common["KABINET_NATS_STREAM_REPLICAS"] == "3"
    assert common["KABINET_TELEMETRY"] == "otlp"
    assert common["KABINET_OTLP_ENDPOINT"] == "http://otel-collector:4317"
    _one(resources, "Deployment", "otel-collector")


def test_dev_streams_have_no_more_replicas_than_nats_servers(
    rendered: dict[str, list[Resource]],
) -> None:
    resources = rendered["dev"]
    servers = _one(resources, "StatefulSet", "nats")["spec"]["replicas"]
    replicas = int(
        _one(resources, "ConfigMap", "kabinet-common")["data"]["KABINET_NATS_STREAM_REPLICAS"]
    )
    assert replicas <= servers
    assert "routes" not in _one(resources, "ConfigMap", "nats-config")["data"]["nats.conf"]


def test_alerts_use_only_metrics_that_exist(rendered: dict[str, list[Resource]]) -> None:
    rule = _one(rendered["prod"], "PrometheusRule", "kabinet")
    expressions = " ".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    ours = set(re.findall(r"\bkabinet_[a-z_]+", expressions))
    assert ours, "no alert on Kabinet's own metrics"
    documented = set(re.findall(r"``(kabinet_[a-z_]+)", event_metrics.__doc__ or ""))
    assert ours <= documented
    # The others come from the gateway's HTTP instrumentation, the NATS exporter (-jsz=all),
    # kube-state-metrics and Prometheus itself.
    others = set(re.findall(r"\b([a-z_]+)(?=[{(\[])", expressions)) - ours
    others -= {"max", "by", "sum", "rate", "increase"}
    assert others <= {
        "http_server_duration_milliseconds_count",
        "jetstream_consumer_num_pending",
        "kube_pod_container_status_restarts_total",
        "up",
    }, others
    exporter = _one(rendered["prod"], "StatefulSet", "nats")["spec"]["template"]["spec"][
        "containers"
    ][1]
    assert "-jsz=all" in exporter["args"]


def test_the_dockerfile_builds_one_non_root_image_from_the_lock() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line.strip() for line in text.replace("\\\n", " ").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    args = dict(
        line.split(None, 1)[1].split("=", 1) for line in instructions if line.startswith("ARG ")
    )
    bases = [line.split()[1] for line in instructions if line.startswith("FROM ")]
    assert len(bases) >= 2, "multi-stage"
    for base in bases:
        image = args.get(base.strip("${}"), base) if base.startswith("$") else base
        name = image.rsplit("/", 1)[-1]
        assert ":" in name, image
        assert not name.endswith(":latest"), image
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users
    assert users[-1].split(":")[0] not in {"0", "root"}
    assert users[-1].split(":")[0].isdigit(), "a numeric user, so runAsNonRoot can verify it"
    assert any(line.startswith("COPY") and "requirements.lock" in line for line in instructions)
    assert "PIP_CONSTRAINT=/src/requirements.lock" in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    last_stage = text.rsplit("FROM ", 1)[1]
    assert "USER 10001" in last_stage
    ours = 0
    for resource in kustomize.render(DEPLOY / "overlays" / "prod"):
        pod = kustomize.pod_spec(resource)
        if pod and pod.get("containers", [{}])[0].get("image", "").startswith("registry."):
            assert pod["securityContext"]["runAsUser"] == int(users[-1].split(":")[0])
            ours += 1
    assert ours, "no pod in the prod overlay runs the image"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_cluster_uses_real_providers_and_a_shared_object_store(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    resources = rendered[overlay]

    def values(name: str) -> dict[str, str]:
        (container,) = _one(resources, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        return _values(resources, container)

    # Processes on different nodes: installers and attachments in one S3 bucket, which the
    # gateway streams downloads from.
    stores = {
        name: {k: v for k, v in values(name).items() if k.startswith("KABINET_OBJECTSTORE_")}
        for name in ("distribution", "support", "gateway")
    }
    assert stores["distribution"]["KABINET_OBJECTSTORE_BACKEND"] == "s3"
    assert stores["distribution"]["KABINET_OBJECTSTORE_S3_BUCKET"]
    assert stores["distribution"] == stores["support"] == stores["gateway"]
    assert values("distribution")["KABINET_DISTRIBUTION_PLACEHOLDERS"] == "false"
    # No sandbox payment provider in a cluster.
    assert values("subscription")["KABINET_PAYMENTS_SANDBOX_URL"] == ""
    identity = values("identity")
    social = ("GOOGLE", "APPLE", "FACEBOOK", "YANDEX", "VK")
    providers = tuple(f"KABINET_IDENTITY_{p}_" for p in social)
    endpoints = {
        k: v
        for k, v in identity.items()
        if k.startswith(providers) and k.endswith(("_URL", "_ISSUER")) and v
    }
    assert len(endpoints) == 16
    for name, url in endpoints.items():
        assert url.startswith("https://"), name
    assert identity["KABINET_IDENTITY_GOOGLE_DISCOVERY_URL"] == (
        "https://accounts.google.com/.well-known/openid-configuration"
    )
    assert identity["KABINET_IDENTITY_VK_TOKEN_URL"].startswith("https://id.vk.com/")
    assert identity["KABINET_IDENTITY_CLIENTS_SEED"].startswith("/etc/kabinet/clients/")
    seeded = _one(resources, "ConfigMap", "kabinet-identity-clients")["data"]["clients.json"]
    assert "127.0.0.1" not in seeded
