"""The deploy manifests parse, and the systemd unit verifies where systemd-analyze exists."""
import pathlib
import shutil
import subprocess

import pytest
import yaml

DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "deploy"


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda p: p.name)
def test_yaml_manifests_parse(path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents, f"{path} is empty"


def probe_url(container, kind):
    """The URL an exec probe of `studiogate probe` checks; httpGet probes cannot reach 127.0.0.1."""
    probe = container[kind]
    assert "httpGet" not in probe, f"{kind}: the kubelet's httpGet goes to the pod IP or the node, not the pod's loopback"
    command = probe["exec"]["command"]
    assert command[:2] == ["/usr/local/bin/studiogate", "probe"], command
    return command[2]


def test_kubernetes_native_sidecar_uses_exec_probes():
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "sidecar.yaml").read_text()))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    gate = next(c for c in spec["initContainers"] if c["name"] == "studiogate")
    assert gate["restartPolicy"] == "Always", "native sidecar (Kubernetes 1.29+)"
    assert probe_url(gate, "startupProbe") == "http://127.0.0.1:8080/healthz"
    assert probe_url(gate, "livenessProbe") == "http://127.0.0.1:8080/healthz"
    assert probe_url(gate, "readinessProbe") == "http://127.0.0.1:8080/readyz"
    args = gate["args"]
    drain = float(args[args.index("--drain-timeout") + 1])
    assert spec["terminationGracePeriodSeconds"] >= drain + 5, "the grace period covers the drain and the snapshot"
    assert not any(d["kind"] == "Secret" for d in documents), "no placeholder token is shipped"


def test_kubernetes_pre_129_variant_orders_start_and_stop():
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "sidecar-pre-1.29.yaml").read_text()))
    spec = next(d for d in documents if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert spec["containers"][0]["name"] == "studiogate", "listed first: it starts first"
    gate = spec["containers"][0]
    assert "--wait" in gate["lifecycle"]["postStart"]["exec"]["command"]
    assert probe_url(gate, "readinessProbe") == "http://127.0.0.1:8080/readyz"
    args = gate["args"]
    pre_stop = float(gate["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + float(args[args.index("--drain-timeout") + 1])


def test_compose_health_check_uses_the_probe():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    test = compose["services"]["studiogate"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "/usr/local/bin/studiogate", "probe"], test


def test_systemd_unit_is_hardened_and_verifies():
    unit = (DEPLOY / "studiogate.service").read_text()
    for directive in ["DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=studiogate"]:
        assert directive in unit
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    result = subprocess.run([analyze, "verify", "--man=no", str(DEPLOY / "studiogate.service")], capture_output=True, text=True)
    # The binary path need not exist on a build machine; anything else is a real error.
    problems = [l for l in result.stderr.splitlines() if l.strip() and "studiogate: No such file" not in l and "/usr/local/bin/studiogate" not in l]
    assert not problems, result.stderr
