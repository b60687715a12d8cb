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


def test_kubernetes_probes_and_secret():
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "sidecar.yaml").read_text()))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    gate = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "studiogate")
    assert gate["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gate["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gate["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "studiogate-admin"


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
