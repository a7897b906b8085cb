"""docker-compose.yml, the Dockerfile and scripts/prodlike.sh describe the same stack.

No Docker engine runs here; CI proves the stack with scripts/prodlike.sh instead, so the compose
file must run exactly the commands that script runs.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PRODLIKE = (ROOT / "scripts" / "prodlike.sh").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def prodlike_command(name: str) -> list[str]:
    match = re.search(rf'^CMD_{name}="([^"]+)"', PRODLIKE, re.M)
    assert match, f"scripts/prodlike.sh defines no CMD_{name}"
    return shlex.split(match.group(1))


def test_compose_has_the_stack():
    assert set(SERVICES) == {"db", "redis", "migrate", "web", "worker", "beat", "proxy"}
    assert SERVICES["db"]["image"] == "postgres:15"
    assert SERVICES["redis"]["image"] == "redis:7"
    assert {"pgdata", "media"} <= set(COMPOSE["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["db"]["volumes"]


def test_compose_commands_match_prodlike():
    for service, name in [("migrate", "MIGRATE"), ("web", "WEB"), ("worker", "WORKER"), ("beat", "BEAT")]:
        assert SERVICES[service]["command"] == prodlike_command(name), service
    # prodlike.sh starts each of them (and only through those variables)
    for name in ("WEB", "WORKER", "BEAT"):
        assert re.search(rf"^start \w+ \$CMD_{name}$", PRODLIKE, re.M), name
    assert re.search(r"^\$CMD_MIGRATE ", PRODLIKE, re.M)


def test_dockerfile_matches_compose_and_prodlike():
    assert DOCKERFILE.startswith("# ") and "\nFROM python:3.11-slim\n" in DOCKERFILE
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M).group(1)
    assert yaml.safe_load(cmd) == SERVICES["web"]["command"]
    assert "pip install -r requirements.txt" in DOCKERFILE
    assert " ".join(prodlike_command("COLLECTSTATIC")) in DOCKERFILE  # the build step prodlike repeats
    user = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert user and user[-1] not in ("root", "0")


def test_one_beat_scalable_web_one_shot_migrate():
    assert SERVICES["beat"]["deploy"]["replicas"] == 1
    assert SERVICES["web"]["deploy"]["replicas"] >= 2
    assert "ports" not in SERVICES["web"]  # replicas share no host port; the proxy reaches them
    assert SERVICES["migrate"]["restart"] == "no"
    for service in ("web", "worker", "beat"):
        assert SERVICES[service]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert "media:/var/lib/qungui/media" in SERVICES[service]["volumes"]
    assert "/readyz" in " ".join(SERVICES["web"]["healthcheck"]["test"])


def test_env_example_names_only_variables_that_something_reads():
    names = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    readers = "".join(
        (ROOT / path).read_text() for path in ("portal/settings.py", "portal/gunicorn_conf.py", "docker-compose.yml")
    )
    unused = [name for name in names if f'"{name}"' not in readers and "${" + name not in readers]
    assert not unused, f".env.example documents variables nothing reads: {unused}"
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "POSTGRES_PASSWORD", "QUNGUI_RETENTION_DAYS"} <= set(names)
