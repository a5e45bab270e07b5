"""docker-compose.yml, checked without a Docker engine: every build context, Dockerfile,
command, module and file it names exists; flags parse; ports and PAYSANDBOX_* variables
agree with what the simulator reads."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from paysandbox.cli import build_parser
from paysandbox.examples.payment_service.__main__ import main as service_main
from paysandbox.settings import DEFAULT_PORT, DEFAULT_TLS_PORT, Settings, env_values

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def command(service: dict[str, Any]) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def test_every_build_context_and_dockerfile_exists(compose: dict[str, Any]) -> None:
    built = [s for s in compose["services"].values() if "build" in s]
    assert len(built) == 4
    for service in built:
        context = ROOT / service["build"]["context"]
        assert context.is_dir()
        dockerfile = context / service["build"].get("dockerfile", "Dockerfile")
        text = dockerfile.read_text()
        for src in re.findall(r"^COPY\s+(.+?)\s+\S+$", text, re.MULTILINE):
            for path in src.split():
                assert (context / path).exists(), f"{dockerfile.name} copies missing {path}"
        assert '".[load]"' in text  # Locust and Faker in the image


def test_the_simulator_command_parses_and_its_environment_is_all_read(
        compose: dict[str, Any]) -> None:
    sim = compose["services"]["simulator"]
    cmd = command(sim)
    assert cmd[0] == "paysandbox"
    build_parser().parse_args(cmd[1:])  # exits on an unknown flag
    env = {k: str(v) for k, v in sim["environment"].items()}
    for name in env:
        assert name.startswith("PAYSANDBOX_")
    values = env_values({k: (v if "${" not in v else "token") for k, v in env.items()})
    read = {k.upper() for k in values}
    for name in env:
        assert name.removeprefix("PAYSANDBOX_") in read, f"settings.py does not read {name}"
    assert int(env["PAYSANDBOX_PORT"]) == DEFAULT_PORT
    assert sim["ports"] == [f"{DEFAULT_PORT}:{DEFAULT_PORT}", f"{DEFAULT_TLS_PORT}:443"]
    assert env["PAYSANDBOX_TLS_PORT"] == "443" and values["tls"] is True
    assert env["PAYSANDBOX_HOST"] == "0.0.0.0"
    # Its own name on the compose network is a Host the admin API answers.
    assert env["PAYSANDBOX_PUBLIC_URL"] == f"http://simulator:{DEFAULT_PORT}"


#: A variable compose must take from the environment: no default, an error without it.
REQUIRED = re.compile(r"^\$\{PAYSANDBOX_ADMIN_TOKEN:\?[^}$]+\}$")


def test_no_admin_token_is_baked_in(compose: dict[str, Any]) -> None:
    """Beyond loopback the admin API needs a token; compose binds 0.0.0.0, so the token
    comes from the environment of whoever runs it, and compose refuses to start without
    one: no default anyone could read here."""
    given = {name: s["environment"]["PAYSANDBOX_ADMIN_TOKEN"]
             for name, s in compose["services"].items()
             if "PAYSANDBOX_ADMIN_TOKEN" in (s.get("environment") or {})}
    assert set(given) == {"simulator", "payment-service", "locust-master", "locust-worker",
                          "prometheus"}
    for name, value in given.items():
        assert REQUIRED.match(value), f"{name}: {value!r} is not taken from the environment"
    text = (ROOT / "docker-compose.yml").read_text()
    assert "compose-admin-token" not in text and "--admin-token" not in text


def test_redis_stays_on_the_compose_network_and_can_have_a_password(
        compose: dict[str, Any]) -> None:
    redis_service = compose["services"]["redis"]
    assert "ports" not in redis_service  # never published on the host
    assert redis_service["expose"] == ["6379"]
    assert "--requirepass" in " ".join(command(redis_service))
    assert redis_service["environment"]["REDIS_PASSWORD"] == "${REDIS_PASSWORD:-}"
    # The URL the file's header gives for it: a password, and TLS with rediss://.
    import redis

    for url, tls in (("redis://:s3cret@redis:6379/0", False),
                     ("rediss://:s3cret@redis:6379/0", True)):
        Settings(store=url)
        client = redis.Redis.from_url(url)
        assert client.connection_pool.connection_kwargs["password"] == "s3cret"
        assert (client.connection_pool.connection_class.__name__ == "SSLConnection") is tls
    assert "redis://:$REDIS_PASSWORD@redis:6379/0" in (ROOT / "docker-compose.yml").read_text()


def test_every_paysandbox_variable_anywhere_is_one_the_simulator_reads(
        compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"PAYSANDBOX_[A-Z_]+", text))
    assert used
    for name in used:  # settings.py turns it into a setting, or it is a typo
        assert env_values({name: "1"}), f"paysandbox/settings.py does not read {name}"


def test_the_service_and_locust_commands_point_at_files_and_ports_that_exist(
        compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose["services"]
    svc = command(services["payment-service"])
    assert svc[:3] == ["python", "-m", "paysandbox.examples.payment_service"]
    assert (ROOT / "paysandbox" / "examples" / "payment_service" / "__main__.py").exists()
    with pytest.raises(SystemExit) as shown:  # --help: every flag in the file is known
        service_main([*svc[3:], "--help"])
    assert shown.value.code == 0
    assert svc[svc.index("--simulator") + 1] == f"http://simulator:{DEFAULT_PORT}"
    port = svc[svc.index("--port") + 1]
    assert services["payment-service"]["ports"] == [f"{port}:{port}"]
    for name in ("locust-master", "locust-worker"):
        cmd = command(services[name])
        assert cmd[0] == "locust"
        assert (ROOT / cmd[cmd.index("-f") + 1]).exists()
    master = command(services["locust-master"])
    assert master[master.index("--host") + 1] == f"http://payment-service:{port}"
    assert command(services["locust-worker"])[-1] == "locust-master"
    assert "deploy" not in services["locust-worker"]  # scaled with --scale
    assert "ports" not in services["locust-worker"]  # a fixed port would stop --scale
    assert services["redis"]["profiles"] == ["redis"]


def test_the_metrics_profile_scrapes_the_simulator_with_its_token(
        compose: dict[str, Any]) -> None:
    """`--profile metrics`: Prometheus reads the token file its command writes, scrapes
    the simulator's address, and Grafana gets the dashboard and its data source."""
    services = compose["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["profiles"] == grafana["profiles"] == ["metrics"]
    for service in (prometheus, grafana):
        for volume in service["volumes"]:
            assert (ROOT / volume.split(":")[0]).exists(), volume
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["simulator:12111"]}]
    token_file = job["authorization"]["credentials_file"]
    assert f"> {token_file} &&" in " ".join(command(prometheus))
    sim = services["simulator"]["environment"]
    assert sim["PAYSANDBOX_PUBLIC_URL"] == "http://simulator:12111"  # so its Host is allowed
    source = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
