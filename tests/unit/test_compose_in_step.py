"""docker-compose.yml, the CLI's service table and each service's settings agree."""

import importlib
from pathlib import Path

import yaml

from modelops_client.local import SERVICES
from modelops_servicekit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]


def service_folders() -> list[str]:
    return sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())


def test_every_service_is_known_to_the_cli_with_its_own_port() -> None:
    assert sorted(SERVICES) == service_folders()
    for name, port in SERVICES.items():
        module = importlib.import_module(f"modelops_{name}.settings")
        settings_cls = next(
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
        )
        assert settings_cls.service == name
        assert settings_cls.default_port == port


def test_compose_runs_every_service_on_its_port_against_the_official_images() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"nats", "mongo", "minio"} <= set(services)
    for name, port in SERVICES.items():
        spec = services[name.replace("_", "-")]
        assert spec["build"]["args"]["SERVICE"] == name
        assert spec["environment"]["MODELOPS_HTTP__PORT"] == str(port)
        assert spec["environment"]["MODELOPS_NATS__URL"] == "nats://nats:4222"
        assert f"{port}:{port}" in spec["ports"]
    dockerfile = (ROOT / compose["services"]["registry"]["build"]["dockerfile"]).read_text()
    assert "uv sync --frozen" in dockerfile
