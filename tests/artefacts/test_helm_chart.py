"""The Helm chart, rendered offline with helm-python-sdk (Helm's own Go engine).

Every test renders the real chart: with default values, with each
ci/*-values.yaml, or with values that exercise one feature. Manifests are
checked against Kubernetes' schemas (kubernetes-validate, strict), the
exporter's own config and web-config loaders, promtool, and the repo's
monitoring/ content. prometheus-operator kinds are checked in
tests/artefacts/test_helm_crds.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

import exporter
from exporter.config import AccountConfig, Config, Defaults, Organizations, Renewal, parse_config
from exporter.webconfig import parse_web_config
from tests.support import ROOT
from tests.tooling import require_tool

CHART = ROOT / "helm" / "aws-reservation-exporter"
CI_FILES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "are"
NAMESPACE = "monitoring"
FULLNAME = "are-aws-reservation-exporter"
# CRDs: validated against prometheus-operator's types in tests/artefacts/test_helm_crds.py.
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}
# The oldest Kubernetes the chart supports with every feature, and the newest
# kubernetes-validate knows.
KUBE_VERSIONS = ["1.28.0", kubernetes_validate.latest_version()]
DEFAULT_THRESHOLDS = {"notice": 60, "warning": 30, "urgent": 7, "critical": 1}


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart: helm.Chart, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The chart's manifests for ``values`` as parsed objects (NOTES.txt left out)."""
    rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    docs: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith(".yaml"):
            docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def ci_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def only(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, got {len(matches)}"
    return matches[0]


def workload(docs: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert len(kinds) == 1, [d["kind"] for d in kinds]
    return kinds[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = workload(docs)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["exporter"]
    return containers[0]


def repo_groups() -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / "monitoring" / "alerts.yaml").read_text())["groups"]


ALL_VALUES = [pytest.param({}, id="defaults")] + [
    pytest.param(ci_values(path), id=path.name) for path in CI_FILES
]


# --------------------------------------------------------------------------- chart metadata


def test_chart_app_version_is_the_package_version(chart: helm.Chart) -> None:
    assert chart.metadata["appVersion"] == exporter.__version__


def test_image_tag_defaults_to_the_app_version(chart: helm.Chart) -> None:
    assert container(render(chart))["image"] == f"aws-reservation-exporter:{exporter.__version__}"


def test_image_tag_and_digest_can_be_set(chart: helm.Chart) -> None:
    tagged = render(chart, {"image": {"registry": "r.example", "tag": "9.9.9"}})
    assert container(tagged)["image"] == "r.example/aws-reservation-exporter:9.9.9"
    digest = "sha256:" + "ab" * 32
    pinned = render(chart, {"image": {"tag": "9.9.9", "digest": digest}})
    assert container(pinned)["image"] == f"aws-reservation-exporter@{digest}"


def test_ci_files_cover_every_optional_feature(chart: helm.Chart) -> None:
    kinds: set[tuple[str, str]] = set()
    for path in CI_FILES:
        kinds |= {(d["kind"], d["metadata"]["name"]) for d in render(chart, ci_values(path))}
    assert {
        ("StatefulSet", FULLNAME),
        ("Secret", f"{FULLNAME}-web-config"),
        ("ServiceMonitor", FULLNAME),
        ("PrometheusRule", FULLNAME),
        ("ConfigMap", f"{FULLNAME}-dashboard"),
        ("NetworkPolicy", FULLNAME),
    } <= kinds


def test_defaults_render_only_the_core_objects(chart: helm.Chart) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in render(chart))
    assert kinds == [
        ("ConfigMap", FULLNAME),
        ("Deployment", FULLNAME),
        ("Service", FULLNAME),
        ("ServiceAccount", FULLNAME),
    ]


def test_every_object_carries_the_standard_labels(chart: helm.Chart) -> None:
    for path in CI_FILES:
        for doc in render(chart, ci_values(path)):
            labels = doc["metadata"]["labels"]
            assert labels["app.kubernetes.io/name"] == "aws-reservation-exporter"
            assert labels["app.kubernetes.io/instance"] == RELEASE
            assert labels["app.kubernetes.io/managed-by"] == "Helm"
            assert labels["app.kubernetes.io/version"] == exporter.__version__
            assert labels["helm.sh/chart"] == f"aws-reservation-exporter-{chart.version}"


# --------------------------------------------------------------------------- lint and schemas


@pytest.mark.parametrize("values", ALL_VALUES)
def test_helm_lint_strict_reports_nothing(values: dict[str, Any]) -> None:
    report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    # severity 1 is informational ("icon is recommended"); 2 and 3 are warnings and errors.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_helm_lint_reports_what_the_schema_refuses() -> None:
    # The lint checks above can fail: a value the schema refuses is a finding.
    report = helm.lint(CHART, {"replicaCount": "three"}, strict=True, namespace=NAMESPACE)
    assert any("/replicaCount" in error for error in report["errors"])
    assert [m["severity"] for m in report["messages"] if "/replicaCount" in m["error"]] == [3, 3]


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", ALL_VALUES)
def test_manifests_pass_strict_kubernetes_schema_validation(
    chart: helm.Chart, values: dict[str, Any], version: str
) -> None:
    for doc in render(chart, values):
        if doc["kind"] in OPERATOR_KINDS:
            continue
        # A missing schema raises SchemaNotFoundError: a failure for core kinds.
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_catches_a_misspelt_field(chart: helm.Chart) -> None:
    # Proves the validation above is live: strict mode rejects unknown fields.
    deployment = workload(render(chart))
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[-1], strict=True)


# --------------------------------------------------------------------------- pod security


@pytest.mark.parametrize("values", ALL_VALUES)
def test_pod_runs_as_nobody_with_a_locked_down_container(
    chart: helm.Chart, values: dict[str, Any]
) -> None:
    docs = render(chart, values)
    pod = workload(docs)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65534
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    ctx = container(docs)["securityContext"]
    assert ctx["runAsNonRoot"] is True
    assert ctx["runAsUser"] == 65534
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    # The read-only root filesystem needs a writable /tmp (HOME and tempfiles).
    mounts = {m["mountPath"]: m["name"] for m in container(docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert {"name": "HOME", "value": "/tmp"} in container(docs)["env"]


def test_resources_and_scheduling_values_reach_the_pod(chart: helm.Chart) -> None:
    values = ci_values(CHART / "ci" / "irsa-multi-account-values.yaml")
    docs = render(chart, values)
    pod = workload(docs)["spec"]["template"]["spec"]
    assert container(docs)["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }
    assert pod["nodeSelector"] == values["nodeSelector"]
    assert pod["tolerations"] == values["tolerations"]
    assert pod["affinity"] == values["affinity"]


# --------------------------------------------------------------------------- identity and config


def test_irsa_role_annotation_lands_on_the_pods_service_account(chart: helm.Chart) -> None:
    role = "arn:aws:iam::111111111111:role/aws-reservation-exporter"
    docs = render(chart, {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": role}}})
    account = only(docs, "ServiceAccount")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role}
    assert workload(docs)["spec"]["template"]["spec"]["serviceAccountName"] == FULLNAME


def test_existing_service_account_can_be_used(chart: helm.Chart) -> None:
    docs = render(chart, {"serviceAccount": {"create": False, "name": "shared-reader"}})
    assert not [d for d in docs if d["kind"] == "ServiceAccount"]
    assert workload(docs)["spec"]["template"]["spec"]["serviceAccountName"] == "shared-reader"


def _config_of(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(only(docs, "ConfigMap", FULLNAME)["data"]["config.yaml"])


@pytest.mark.parametrize("values", ALL_VALUES)
def test_configmap_holds_the_config_values_block_which_the_exporter_accepts(
    chart: helm.Chart, values: dict[str, Any]
) -> None:
    docs = render(chart, values)
    config = _config_of(docs)
    merged = chart.merge_values(values)
    # the values' config, with the landing page's thresholds from the alerts' ones
    thresholds = {t: f"{d}d" for t, d in merged["prometheusRule"]["thresholds"].items()}
    assert config == {"expiry_thresholds": thresholds, **merged["config"]}
    parse_config(config)  # raises ConfigError naming the path of any problem
    args = container(docs)["args"]
    assert "--config.file=/etc/aws-reservation-exporter/config/config.yaml" in args
    mounts = {m["name"]: m["mountPath"] for m in container(docs)["volumeMounts"]}
    assert mounts["config"] == "/etc/aws-reservation-exporter/config"


def _checksum(docs: list[dict[str, Any]]) -> str:
    return workload(docs)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def test_thresholds_follow_the_alerts_unless_the_config_sets_its_own(chart: helm.Chart) -> None:
    docs = render(chart, {"prometheusRule": {"thresholds": {"notice": 90, "warning": 45}}})
    assert _config_of(docs)["expiry_thresholds"] == {
        "notice": "90d",
        "warning": "45d",
        "urgent": "7d",
        "critical": "1d",
    }
    own = {"notice": "50d", "warning": "20d", "urgent": "5d", "critical": "12h"}
    docs = render(chart, {"config": {"expiry_thresholds": own}})
    assert _config_of(docs)["expiry_thresholds"] == own


def test_config_checksum_changes_exactly_when_the_config_changes(chart: helm.Chart) -> None:
    base = _checksum(render(chart))
    assert len(base) == 64
    changed = render(chart, {"config": {"regions": ["eu-west-1"], "accounts": [{"name": "self"}]}})
    assert _checksum(changed) != base
    unrelated = render(chart, {"replicaCount": 2, "logLevel": "debug"})
    assert _checksum(unrelated) == base


def test_schema_config_keys_match_the_exporters_config_model() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    config = schema["properties"]["config"]
    assert set(config["properties"]) == set(Config.model_fields)
    assert set(config["properties"]["defaults"]["properties"]) == set(Defaults.model_fields)
    items = config["properties"]["accounts"]["items"]["properties"]
    assert set(items) == set(AccountConfig.model_fields)
    orgs = config["properties"]["organizations"]["properties"]
    assert set(orgs) == set(Organizations.model_fields)
    renewal = config["properties"]["renewal"]["properties"]
    assert set(renewal) == set(Renewal.model_fields)


# --------------------------------------------------------------------------- probes and web config


def _probe_schemes(docs: list[dict[str, Any]]) -> dict[str, tuple[str, str, str]]:
    c = container(docs)
    return {
        kind: (
            c[kind]["httpGet"]["path"],
            c[kind]["httpGet"]["port"],
            c[kind]["httpGet"]["scheme"],
        )
        for kind in ("livenessProbe", "readinessProbe")
    }


def test_probes_use_healthz_and_readyz_over_http_by_default(chart: helm.Chart) -> None:
    docs = render(chart)
    assert _probe_schemes(docs) == {
        "livenessProbe": ("/healthz", "http", "HTTP"),
        "readinessProbe": ("/readyz", "http", "HTTP"),
    }
    assert not [a for a in container(docs)["args"] if a.startswith("--web.config.file")]


def test_tls_and_basic_auth_mount_a_web_config_and_keep_probes_working(chart: helm.Chart) -> None:
    docs = render(chart, ci_values(CHART / "ci" / "tls-basic-auth-values.yaml"))
    assert _probe_schemes(docs) == {
        "livenessProbe": ("/healthz", "http", "HTTPS"),
        "readinessProbe": ("/readyz", "http", "HTTPS"),
    }
    c = container(docs)
    assert "--web.config.file=/etc/aws-reservation-exporter/web/web-config.yml" in c["args"]
    pod = workload(docs)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert volumes["web-config"]["secret"]["secretName"] == f"{FULLNAME}-web-config"
    assert mounts["web-config"] == "/etc/aws-reservation-exporter/web"
    assert volumes["tls"]["secret"]["secretName"] == "aws-reservation-exporter-tls"
    assert mounts["tls"] == "/etc/aws-reservation-exporter/tls"
    annotations = workload(docs)["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/web-config"]) == 64


def _self_signed(directory: Path) -> None:
    """tls.crt, tls.key and ca.crt (the certificate itself) in ``directory``."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aws-reservation-exporter")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "tls.crt").write_bytes(pem)
    (directory / "ca.crt").write_bytes(pem)
    (directory / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.mark.parametrize("name", ["tls-basic-auth-values.yaml", "all-features-values.yaml"])
def test_rendered_web_config_is_accepted_by_the_exporter(
    chart: helm.Chart, name: str, tmp_path: Path
) -> None:
    docs = render(chart, ci_values(CHART / "ci" / name))
    text = only(docs, "Secret")["stringData"]["web-config.yml"]
    # The Secret's paths point at the pod's mounts; here they point at test files.
    _self_signed(tmp_path)
    text = text.replace("/etc/aws-reservation-exporter/tls/", f"{tmp_path}/")
    config = parse_web_config(yaml.safe_load(text), tmp_path)
    assert config.tls_enabled
    assert config.auth_enabled


def test_basic_auth_alone_keeps_plain_http_probes(chart: helm.Chart) -> None:
    hashed = "$2b$10$.NNcD/A4it6PIUPERAfn9OqKB5BKfHapLU9rSOtfUBU3eEw9gfxsS"
    docs = render(chart, {"webConfig": {"basicAuthUsers": {"prometheus": hashed}}})
    assert _probe_schemes(docs)["readinessProbe"] == ("/readyz", "http", "HTTP")
    web = yaml.safe_load(only(docs, "Secret")["stringData"]["web-config.yml"])
    assert web == {"basic_auth_users": {"prometheus": hashed}}


# --------------------------------------------------------------------------- ServiceMonitor


def test_service_monitor_honours_the_exporters_labels(chart: helm.Chart) -> None:
    docs = render(chart, ci_values(CHART / "ci" / "servicemonitor-values.yaml"))
    monitor = only(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True
    assert endpoint["port"] == "http"
    assert endpoint["scheme"] == "http"
    assert endpoint["interval"] == "2m"
    selector = monitor["spec"]["selector"]["matchLabels"]
    service = only(docs, "Service")
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}


def test_service_monitor_scrapes_over_tls_with_basic_auth(chart: helm.Chart) -> None:
    values = ci_values(CHART / "ci" / "tls-basic-auth-values.yaml")
    [endpoint] = only(render(chart, values), "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == values["serviceMonitor"]["tlsConfig"]
    assert endpoint["basicAuth"] == values["serviceMonitor"]["basicAuth"]
    assert endpoint["honorLabels"] is True


# --------------------------------------------------------------------------- PrometheusRule


def _rule_groups(chart: helm.Chart, thresholds: dict[str, float] | None = None) -> list[Any]:
    values: dict[str, Any] = {"prometheusRule": {"enabled": True}}
    if thresholds:
        values["prometheusRule"]["thresholds"] = thresholds
    return only(render(chart, values), "PrometheusRule")["spec"]["groups"]


def test_chart_copies_of_monitoring_files_are_identical() -> None:
    for name in ("alerts.yaml", "dashboard.json"):
        source = ROOT / "monitoring" / name
        copy = CHART / "files" / name
        assert source.is_file(), f"monitoring/{name} is missing"
        assert copy.read_bytes() == source.read_bytes(), (
            f"{copy.relative_to(ROOT)} differs from monitoring/{name}: "
            "run helm/sync-monitoring-files.sh"
        )


def test_thresholds_group_is_first_in_the_repo_rules_and_matches_the_defaults() -> None:
    first = repo_groups()[0]
    assert first["name"] == "aws-reservation-thresholds"
    assert [(r["record"], r["expr"], r["labels"]) for r in first["rules"]] == [
        ("aws_reservation:expiry_threshold_days", f"vector({days})", {"tier": tier})
        for tier, days in DEFAULT_THRESHOLDS.items()
    ]


def test_prometheus_rule_with_default_values_equals_the_repo_rules(chart: helm.Chart) -> None:
    assert _rule_groups(chart) == repo_groups()


def test_prometheus_rule_carries_thresholds_from_values(chart: helm.Chart) -> None:
    thresholds = {"notice": 90, "warning": 45, "urgent": 14, "critical": 2.5}
    groups = _rule_groups(chart, thresholds)
    assert groups[0]["name"] == "aws-reservation-thresholds"
    assert {r["labels"]["tier"]: r["expr"] for r in groups[0]["rules"]} == {
        "notice": "vector(90)",
        "warning": "vector(45)",
        "urgent": "vector(14)",
        "critical": "vector(2.5)",
    }
    # Every other group ships unchanged.
    assert groups[1:] == repo_groups()[1:]


def test_thresholds_out_of_order_are_refused(chart: helm.Chart) -> None:
    with pytest.raises(helm.HelmRenderError, match="must shrink from notice"):
        _rule_groups(chart, {"notice": 30, "warning": 60, "urgent": 7, "critical": 1})


@pytest.mark.parametrize(
    "thresholds", [None, {"notice": 90, "warning": 45, "urgent": 14, "critical": 3}]
)
def test_promtool_accepts_the_rendered_rules(
    chart: helm.Chart, thresholds: dict[str, float] | None, tmp_path: Path
) -> None:
    promtool = require_tool("promtool")
    groups = _rule_groups(chart, thresholds)
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    result = subprocess.run(
        [promtool, "check", "rules", rules], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(g["rules"]) for g in groups)
    assert f"SUCCESS: {count} rules found" in result.stdout


# --------------------------------------------------------------------------- dashboard


def test_dashboard_configmap_ships_the_repo_dashboard_for_the_sidecar(chart: helm.Chart) -> None:
    values = ci_values(CHART / "ci" / "dashboard-values.yaml")
    config_map = only(render(chart, values), "ConfigMap", f"{FULLNAME}-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "grafana"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "AWS"}
    [(key, text)] = config_map["data"].items()
    assert key == "aws-reservation-exporter.json"
    source = (ROOT / "monitoring" / "dashboard.json").read_text()
    assert json.loads(text) == json.loads(source)


# --------------------------------------------------------------------------- sharding


def test_sharding_runs_a_statefulset_with_one_shard_per_pod(chart: helm.Chart) -> None:
    docs = render(chart, ci_values(CHART / "ci" / "sharding-values.yaml"))
    assert not [d for d in docs if d["kind"] == "Deployment"]
    statefulset = only(docs, "StatefulSet")
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["serviceName"] == only(docs, "Service")["metadata"]["name"]
    c = container(docs)
    assert "--shard=auto" in c["args"]
    assert "--total-shards=3" in c["args"]
    # --shard=auto reads POD_INDEX, else the hostname's -N suffix.
    [index] = [e for e in c["env"] if e["name"] == "POD_INDEX"]
    assert index["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
    }


def test_sharding_renders_on_clusters_without_the_pod_index_label() -> None:
    # Before 1.28 the label is missing; --shard=auto falls back to the hostname.
    values = ci_values(CHART / "ci" / "sharding-values.yaml")
    report = helm.lint(CHART, values, strict=True, kube_version="v1.27.0", namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_without_sharding_replicas_are_not_sharded(chart: helm.Chart) -> None:
    docs = render(chart, {"replicaCount": 2})
    assert workload(docs)["kind"] == "Deployment"
    assert workload(docs)["spec"]["replicas"] == 2
    assert not [a for a in container(docs)["args"] if a.startswith("--shard")]


# --------------------------------------------------------------------------- network policy


def test_network_policy_admits_scrapes_and_lets_out_only_dns_and_https(chart: helm.Chart) -> None:
    values = ci_values(CHART / "ci" / "networkpolicy-values.yaml")
    policy = only(render(chart, values), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    [ingress] = policy["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"] == values["networkPolicy"]["ingressFrom"]
    ports = sorted((p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"])
    assert ports == [(53, "TCP"), (53, "UDP"), (443, "TCP")]
    [https] = [r for r in policy["egress"] if r["ports"][0]["port"] == 443]
    assert https["to"] == values["networkPolicy"]["egressTo"]


# --------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),
        ({"config": {"regions": ["us-east-1"], "refresh": "1h"}}, "'refresh' not allowed"),
        ({"config": {"regions": None}}, "missing property 'regions'"),
        ({"config": {"regions": ["us-east-1"], "services": ["ec2", "s3"]}}, "/config/services/1"),
        ({"config": {"regions": ["us-east-1"], "refresh_interval": "soon"}}, "refresh_interval"),
        ({"logLevel": "loud"}, "/logLevel"),
        ({"sharding": {"enabled": True, "replicas": 0}}, "/sharding/replicas"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": 1}}}, "annotations"),
        ({"webConfig": {"tls": {"enabled": True}}}, "secretName"),
        (
            {
                "webConfig": {
                    "tls": {
                        "enabled": True,
                        "secretName": "t",
                        "clientAuthType": "RequireAndVerifyClientCert",
                        "clientCAKey": "ca.crt",
                    }
                }
            },
            "/webConfig/tls/clientAuthType",
        ),
        ({"webConfig": {"basicAuthUsers": {"prometheus": "hunter2"}}}, "basicAuthUsers"),
        ({"prometheusRule": {"thresholds": {"notice": "soon"}}}, "/prometheusRule/thresholds"),
        ({"prometheusRule": {"thresholds": {"notice": -1}}}, "/prometheusRule/thresholds"),
        ({"prometheusRule": {"thresholds": {"info": 90}}}, "'info' not allowed"),
        ({"serviceMonitor": {"honorLabels": False}}, "'honorLabels' not allowed"),
        ({"serviceMonitor": {"interval": "often"}}, "/serviceMonitor/interval"),
        ({"securityContext": {"runAsUser": 0}}, "/securityContext/runAsUser"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_schema_rejects_bad_values(chart: helm.Chart, values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as caught:
        chart.validate_schema(values)
    assert message in str(caught.value)
    with pytest.raises(helm.HelmValuesError):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
