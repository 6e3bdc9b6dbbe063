"""The deployment files parse and agree with the code: ports, paths, probe URLs, environment variables,
metric names and the config they ship.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.metrics import Metrics
from service.settings import EnvOverrides, load_config
from service.web import Heartbeat, build_app

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
PORT = 8080
CONFIG_PATH = "/etc/newsalert/config.toml"


def k8s(name: str) -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "kubernetes" / name).read_text(encoding="utf-8"))


def dockerfile_env() -> dict[str, str]:
    text = (REPO / "Dockerfile").read_text()
    block = text.split("ENV ", 1)[1].split("\nUSER", 1)[0]
    return dict(re.findall(r"(\w+)=(\S+)", block))


def container() -> dict[str, Any]:
    return k8s("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def known_env() -> set[str]:
    return {f"NEWSALERT_{name.upper()}" for name in EnvOverrides.model_fields}


def routes() -> set[str]:
    app = build_app(Heartbeat(), _never_ready, Metrics())
    return {r.resource.canonical for r in app.router.routes() if r.resource is not None}


async def _never_ready() -> str | None:
    return "test"


def test_the_image_serves_the_probes_on_the_port_it_exposes() -> None:
    text = (REPO / "Dockerfile").read_text()
    env = dockerfile_env()
    assert f"EXPOSE {PORT}" in text
    assert env["NEWSALERT_HTTP_PORT"] == str(PORT)
    assert env["NEWSALERT_CONFIG"] == CONFIG_PATH
    assert f"http://127.0.0.1:{PORT}/healthz" in text
    assert "USER newsalert" in text
    assert set(k for k in env if k.startswith("NEWSALERT_")) <= known_env()


def test_kubernetes_probes_ports_and_paths_agree_with_the_code() -> None:
    c = container()
    assert c["ports"][0]["containerPort"] == PORT
    assert {c["livenessProbe"]["httpGet"]["path"], c["readinessProbe"]["httpGet"]["path"]} <= routes()
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["NEWSALERT_CONFIG"] == CONFIG_PATH
    assert env["NEWSALERT_HTTP_PORT"] == str(PORT)
    assert set(env) <= known_env()
    mount = next(m for m in c["volumeMounts"] if m["name"] == "config")
    assert CONFIG_PATH.startswith(mount["mountPath"] + "/")
    annotations = k8s("deployment.yaml")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(PORT)
    assert annotations["prometheus.io/path"] in routes()
    service = k8s("service.yaml")
    assert service["spec"]["ports"][0]["targetPort"] == c["ports"][0]["name"]


def test_the_configmap_config_is_valid_with_the_secret_values(tmp_path: Path) -> None:
    config_text = k8s("configmap.yaml")["data"]["config.toml"]
    secret = k8s("secret.yaml")["stringData"]
    referenced = set(re.findall(r"\$\{(\w+)\}", config_text))
    assert referenced <= set(secret), "every ${VAR} in the config must come from the Secret"
    path = tmp_path / "config.toml"
    path.write_text(config_text, encoding="utf-8")
    config = load_config(path, dict(secret))
    assert config.service.store == secret["NEWSALERT_STORE"]
    # More than one replica only with a shared store.
    assert k8s("deployment.yaml")["spec"]["replicas"] == 1 or config.service.store.startswith("redis")
    grace = k8s("deployment.yaml")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > config.service.grace_period


def test_the_systemd_unit_uses_known_variables_and_reloads_with_sighup() -> None:
    unit = (DEPLOY / "systemd" / "newsalert.service").read_text()
    variables = set(re.findall(r"Environment=(NEWSALERT_\w+)=", unit))
    assert variables <= known_env()
    assert f"NEWSALERT_CONFIG={CONFIG_PATH}" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "KillSignal=SIGTERM" in unit


def test_compose_runs_the_worker_on_redis_with_the_config_mounted() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    worker = compose["services"]["worker"]
    assert worker["environment"]["NEWSALERT_STORE"].startswith("redis://redis:6379")
    assert set(worker["environment"]) <= known_env()
    assert any(v.endswith(f":{CONFIG_PATH}:ro") for v in worker["volumes"])
    assert worker["deploy"]["replicas"] == 2


@pytest.mark.parametrize(
    "panel",
    json.loads((DEPLOY / "grafana" / "newsalert-dashboard.json").read_text())["panels"],
    ids=lambda p: p["title"],
)
def test_every_dashboard_query_names_a_metric_the_service_exports(panel: dict[str, Any]) -> None:
    exported = Metrics().render().decode()
    families = set(re.findall(r"^# TYPE (\w+) (\w+)", exported, re.MULTILINE))
    names = {n for n, _ in families} | {f"{n}_total" for n, k in families if k == "counter"}
    names |= {f"{n}_bucket" for n, k in families if k == "histogram"}
    for target in panel["targets"]:
        for metric in re.findall(r"\bnewsalert_\w+", target["expr"]):
            assert metric in names, f"{metric} is not exported"


def test_poll_metrics_name_each_feed_or_count_every_feed_as_one() -> None:
    each, pooled = Metrics(), Metrics(by_feed=False)
    for metrics in (each, pooled):
        for feed in ("a", "b"):
            metrics.poll_finished(feed, "unchanged", 0.01, 30, 0)
        metrics.poll_started(0.3)
        metrics.polls_waiting(4)
    assert 'newsalert_polls_total{feed="a",status="unchanged"} 1.0' in each.render().decode()
    text = pooled.render().decode()
    assert 'newsalert_polls_total{feed="*",status="unchanged"} 2.0' in text and 'feed="a"' not in text
    assert 'newsalert_poll_lag_seconds_bucket{le="0.5"} 1.0' in text and "newsalert_polls_due 4.0" in text
