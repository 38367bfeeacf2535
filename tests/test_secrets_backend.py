"""FernetSecretsBackend: ``fernet:`` connection values reach every hook as plaintext.

The end-to-end checks run in a child process configured only through ``AIRFLOW__SECRETS__*``
variables, as a deployment would be, so the backend Airflow builds (and keeps for the process)
never leaks into the other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet

from airflow_provider_hisham.secrets import encrypt_secret
from airflow_provider_hisham.secrets_backend import FernetBackendError, FernetSecretsBackend
from tests.conftest import REPO_ROOT
from tests.servers.repo_fixtures import TOKEN, git_server, github_api  # noqa: F401 - fixtures

BACKEND = "airflow_provider_hisham.secrets_backend.FernetSecretsBackend"
KEY, OTHER = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", KEY)
    return KEY


def test_file_and_environment_connections_are_decrypted(tmp_path, monkeypatch, key):
    path = tmp_path / "connections.json"
    path.write_text(json.dumps({
        "gh": {"conn_type": "github", "password": encrypt_secret(TOKEN, key), "extra": {"timeout": 5}},
        "os": {"conn_type": "hishamos", "host": "h.example", "login": "a@b.c",
               "extra": {"auth_mode": "jwt_secret", "jwt_secret": encrypt_secret("jwt-s3cret-value", key)}},
        "uri": f"http://user:{quote(encrypt_secret('uri-pass-word', key), safe='')}@host.example:8080/x",
    }))
    monkeypatch.setenv("AIRFLOW_CONN_FROM_ENV", json.dumps({"conn_type": "http", "password": encrypt_secret("env-pw-1", key)}))
    monkeypatch.setenv("AIRFLOW_CONN_PLAIN", "http://u:plain-pw@host.example")
    backend = FernetSecretsBackend(connections_file_path=str(path))
    gh = backend.get_connection("gh")
    assert (gh.conn_type, gh.password, gh.extra_dejson) == ("github", TOKEN, {"timeout": 5})
    os_conn = backend.get_connection("os")
    assert os_conn.extra_dejson == {"auth_mode": "jwt_secret", "jwt_secret": "jwt-s3cret-value"}
    assert (os_conn.host, os_conn.login, os_conn.password) == ("h.example", "a@b.c", None)
    uri = backend.get_connection("uri")
    assert (uri.login, uri.password, uri.host, uri.port, uri.schema) == ("user", "uri-pass-word", "host.example", 8080, "x")
    assert backend.get_connection("from_env").password == "env-pw-1"
    assert backend.get_connection("plain").password == "plain-pw"
    assert backend.get_connection("missing") is None
    # environment variables can be left to Airflow's own backend
    assert FernetSecretsBackend(connections_file_path=str(path), environment="off").get_connection("from_env") is None


def test_variables_are_decrypted(tmp_path, monkeypatch, key):
    path = tmp_path / "variables.json"
    path.write_text(json.dumps({"api_token": encrypt_secret("var-secret", key), "n": 3}))
    monkeypatch.setenv("AIRFLOW_VAR_FROM_ENV", encrypt_secret("env-var-secret", key))
    backend = FernetSecretsBackend(variables_file_path=str(path))
    assert backend.get_variable("api_token") == "var-secret"
    assert backend.get_variable("n") == "3"
    assert backend.get_variable("from_env") == "env-var-secret"
    assert backend.get_variable("missing") is None


def test_wrong_key_is_an_authoritative_refusal_without_the_value(monkeypatch):
    from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

    ciphertext = encrypt_secret("the-plain-secret", OTHER)
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", KEY)
    monkeypatch.setenv("AIRFLOW_CONN_ENC", json.dumps({"conn_type": "http", "extra": {"api_key": ciphertext}}))
    with pytest.raises(FernetBackendError) as info:
        FernetSecretsBackend().get_connection("enc")
    assert isinstance(info.value, AirflowSecretsBackendAccessDenied)  # Airflow does not try the next backend
    message = str(info.value)
    assert "connection 'enc'" in message and "'extra.api_key'" in message and "no longer in [core] fernet_key" in message
    assert "the-plain-secret" not in message and ciphertext[len("fernet:"):][:20] not in message


@pytest.mark.parametrize("content, expected", [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({"c": 5}), "expected a URI string or an object"),
    ("x" * (2 << 20), "larger than allowed"),
])
def test_bad_files_are_named(tmp_path, content, expected):
    path = tmp_path / "connections.json"
    path.write_text(content)
    with pytest.raises(FernetBackendError, match=expected) as info:
        FernetSecretsBackend(connections_file_path=str(path)).get_connection("c")
    assert str(path) in str(info.value) or expected == "expected a URI string or an object"


def test_unparsable_connection_does_not_quote_it(monkeypatch, key):
    monkeypatch.setenv("AIRFLOW_CONN_BAD", '{"conn_type": "http", "port": "not-a-port-s3cret"}')
    with pytest.raises(FernetBackendError, match="connection 'bad': cannot be parsed") as info:
        FernetSecretsBackend().get_connection("bad")
    assert "s3cret" not in str(info.value)


def test_environment_kwarg_is_a_strict_boolean():
    with pytest.raises(ValueError, match="environment: expected a boolean"):
        FernetSecretsBackend(environment="maybe")


CHILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path

    from airflow.providers.github.hooks.github import GithubHook
    from airflow_provider_hisham.hooks.hishamos import HishamOSHook

    out = {}
    try:
        hook = GithubHook(github_conn_id="github_default")
        out["github_hook"] = hook.test_connection()
        out["github_token_is_plain"] = hook.get_connection("github_default").password == os.environ["EXPECT_TOKEN"]
        out["hishamos"] = HishamOSHook("hishamos_default").test_connection()
        out["hishamos_jwt"] = HishamOSHook("hishamos_jwt").test_connection()
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    if out.get("error") is None and os.environ.get("RUN_OPERATOR"):
        from airflow.sdk import DAG
        folder = Path(os.environ["AIRFLOW_HOME"]) / "test_dags"
        for old in folder.glob("*.py"):
            old.unlink()
        (folder / "fernet_backend_check.py").write_text(
            "# airflow dag\\n"
            "import pendulum\\n"
            "from airflow.sdk import DAG\\n"
            "from airflow.providers.github.operators.github import GithubOperator\\n"
            "with DAG('fernet_backend_check', schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:\\n"
            "    GithubOperator(task_id='whoami', github_conn_id='github_default', github_method='get_user',\\n"
            "                   result_processor=lambda user: user.login)\\n")
        import importlib.util
        spec = importlib.util.spec_from_file_location("fernet_backend_check", folder / "fernet_backend_check.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        run = module.dag.test()
        out["operator"] = str(run.state)
    print("RESULT " + json.dumps(out))
""")


def _child(env: dict[str, str], *, operator: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "AIRFLOW__SECRETS__BACKEND": BACKEND, "EXPECT_TOKEN": TOKEN,
           **env}
    if operator:
        env["RUN_OPERATOR"] = "1"
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):]) | {"_output": proc.stdout + proc.stderr}


def test_upstream_github_hook_operator_and_hishamos_get_plaintext(github_api, hishamos, tmp_path):
    """The github provider's own hook and operator, and the HishamOS hook, with encrypted secrets
    from a secrets file (GitHub) and from environment variables (HishamOS)."""
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"github_default": {
        "conn_type": "github", "host": github_api.url, "password": encrypt_secret(TOKEN, KEY)}}))
    password = hishamos.connection("password")
    password["password"] = encrypt_secret(password["password"], KEY)
    jwt = hishamos.connection("jwt_secret")
    jwt["extra"]["jwt_secret"] = encrypt_secret(jwt["extra"]["jwt_secret"], KEY)
    env = {"AIRFLOW__CORE__FERNET_KEY": f"{OTHER},{KEY}",  # rotated: the old key still decrypts
           "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(connections)}),
           "AIRFLOW_CONN_HISHAMOS_DEFAULT": json.dumps(password), "AIRFLOW_CONN_HISHAMOS_JWT": json.dumps(jwt)}
    got = _child(env, operator=True)
    assert "error" not in got, got["error"]
    assert got["github_hook"] == [True, "Successfully connected to GitHub."]
    assert got["github_token_is_plain"] is True
    assert got["hishamos"][0] is True and "password auth" in got["hishamos"][1]
    assert got["hishamos_jwt"][0] is True and "jwt_secret auth" in got["hishamos_jwt"][1]
    assert got["operator"] == "success", got["_output"][-3000:]
    assert TOKEN not in got["_output"]  # masked in the task log


def test_wrong_key_fails_the_hook_clearly(github_api):
    ciphertext = encrypt_secret(TOKEN, OTHER)
    env = {"AIRFLOW__CORE__FERNET_KEY": KEY, "AIRFLOW_CONN_GITHUB_DEFAULT": json.dumps(
        {"conn_type": "github", "host": github_api.url, "password": ciphertext})}
    got = _child(env)
    assert got["error"].startswith("FernetBackendError: connection 'github_default': field 'password': ")
    assert "could not be decrypted" in got["error"]
    assert TOKEN not in got["_output"] and ciphertext[len("fernet:"):] not in got["_output"]
