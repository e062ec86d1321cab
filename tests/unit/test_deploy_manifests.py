"""deploy/ checked without Docker or a cluster (images cannot be pulled here): the compose file, the Kubernetes
manifests, the Dockerfile and the HAProxy configuration name real settings with values Settings accepts, and
agree with each other on ports, probes, labels and names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from voicebot.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DEFAULTS = Settings()


def _setting_names(model: type[BaseModel] = Settings, prefix: str = "VOICEBOT_") -> set[str]:
    names = set()
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= _setting_names(kind, f"{prefix}{name.upper()}__")
        else:
            names.add(prefix + name.upper())
    return names


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a worker with this environment reads them (values validated)."""
    unknown = {name for name in env if name.startswith("VOICEBOT_")} - _setting_names()
    assert not unknown, f"not settings: {unknown}"
    for name, value in env.items():
        monkeypatch.setenv(name, re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value)))  # compose's ${X:-default}
    return Settings()


def _k8s() -> dict[tuple[str, str], dict[str, Any]]:
    docs = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc and doc["kind"] != "Kustomization":
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def _haproxy_servers(path: Path) -> list[str]:
    return re.findall(r"^\s*server(?:-template)?\s+\S+\s+(?:\d+\s+)?(\S+)", path.read_text(), re.M)


def test_compose_runs_two_workers_on_postgres_and_redis_behind_haproxy(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "worker-1", "worker-2", "web"} <= set(services)
    worker_ids = set()
    for name in ("worker-1", "worker-2"):
        worker = services[name]
        assert worker["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert {"postgres", "redis"} <= set(worker["depends_on"])
        with monkeypatch.context() as env:
            settings = _settings_from(worker["environment"], env)
        assert settings.store.url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in settings.store.url
        assert (settings.events.bus, settings.events.redis_url) == ("redis", "redis://redis:6379/0")
        assert settings.audiosocket.host == settings.web.host == "0.0.0.0" and settings.log_json
        subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
        assert settings.audiosocket.allowed_peers == [subnet]
        worker_ids.add(settings.worker_id)
        volumes = {v.split(":")[1] for v in worker["volumes"]}
        assert {"/app/var", "/app/models/cache"} <= volumes  # the spool outlives the container
    assert worker_ids == {"worker-1", "worker-2"}
    web = services["web"]
    assert web["image"].startswith("haproxy:")
    assert {f"{p}:{p}" for p in (DEFAULTS.audiosocket.port, DEFAULTS.web.port)} == set(web["ports"])
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in web["volumes"]
    # HAProxy's servers are the compose workers, on the ports their settings listen on
    servers = _haproxy_servers(DEPLOY / "haproxy.cfg")
    assert sorted(set(servers)) == sorted({f"{w}:{p}" for w in ("worker-1", "worker-2")
                                           for p in (DEFAULTS.audiosocket.port, DEFAULTS.web.port)})


def test_kubernetes_workers_settings_probes_and_services_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _k8s()
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / resource).is_file(), resource
    config = docs[("ConfigMap", "voicebot-settings")]["data"]
    secret = docs[("Secret", "voicebot-secrets")]["stringData"]
    with monkeypatch.context() as env:
        settings = _settings_from({**config, **secret, "VOICEBOT_WORKER_ID": "voicebot-worker-abc"}, env)
    assert settings.events.bus == "redis" and settings.store.url.startswith("postgresql+asyncpg://")
    assert settings.audiosocket.host == settings.web.host == "0.0.0.0"

    worker = docs[("Deployment", "voicebot-worker")]
    pod = worker["spec"]["template"]
    assert worker["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    assert {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]} == {
        "voicebot-settings", "voicebot-secrets"}
    assert {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]} == {
        "VOICEBOT_WORKER_ID": "metadata.name"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"audiosocket": settings.audiosocket.port, "web": settings.web.port}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "web"}
    # the pod leaves the balancer's list first (preStop), then stops within its grace
    (pre_stop,) = container["lifecycle"]["preStop"]["exec"]["command"][1:]
    grace = float(pre_stop) + settings.audiosocket.shutdown_grace_s + settings.web.shutdown_lookup_grace_s
    assert pod["spec"]["terminationGracePeriodSeconds"] > grace
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/app/var", "/app/models/cache"} <= mounts

    haproxy = docs[("Deployment", "voicebot-haproxy")]["spec"]["template"]
    for service_name, pod_spec in (("voicebot-workers", pod), ("voicebot", haproxy)):
        service = docs[("Service", service_name)]["spec"]
        assert service["selector"].items() <= pod_spec["metadata"]["labels"].items()
        names = {p["name"] for c in pod_spec["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["ports"]} == names == {"audiosocket", "web"}
    assert docs[("Service", "voicebot-workers")]["spec"]["clusterIP"] == "None"  # HAProxy resolves each pod
    assert set(_haproxy_servers(DEPLOY / "k8s" / "haproxy.cfg")) == {
        f"voicebot-workers:{settings.audiosocket.port}", f"voicebot-workers:{settings.web.port}"}
    assert "haproxy.cfg" in kustomization["configMapGenerator"][0]["files"]


def test_dockerfile_pins_the_cpu_torch_and_serves_the_settings_ports() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert 'pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"' in dockerfile
    assert dockerfile.index("torch==2.13.0") < dockerfile.index("pip install -e .")
    assert re.search(rf"^EXPOSE {DEFAULTS.audiosocket.port} {DEFAULTS.web.port}$", dockerfile, re.M)
    assert f"127.0.0.1:{DEFAULTS.web.port}/healthz" in dockerfile
    assert re.search(r'^CMD \["voicebot", "serve"\]$', dockerfile, re.M)
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert "models/cache" in ignored
    copied = [source for line in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M) for source in line.split()]
    assert {"pyproject.toml", "voicebot", "models", "dialogs"} <= set(copied)
    for source in copied:
        assert f"!{source}" in ignored, source  # everything the image copies is in the build context
