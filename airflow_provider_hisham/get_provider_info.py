"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Kept as a plain dict (importing only the ``[hisham]`` option list, which loads nothing else) so
that Airflow can build connection forms and list hooks without importing any hook module: in
Airflow 3.2+ the UI's connection forms come from the ``conn-fields`` and ``ui-field-behaviour``
entries below.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_hisham.config import provider_config

# No documentation URL for HishamOS itself: the package is not published, so any address would
# lead nowhere. Its documentation is the README, shipped as the package's long description.
_STR = {"type": ["string", "null"]}
_SECRET = {"type": ["string", "null"], "format": "password"}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-hisham",
        "name": "HishamOS",
        "description": "Run HishamOS AI-agent software-delivery workflows in Apache Airflow: "
        "HishamOS API calls, project generation from templates and repository export "
        "to GitHub, GitLab, any git remote or archives.",
        "versions": ["0.1.0"],
        "integrations": [
            {"integration-name": "HishamOS", "tags": ["software"]},
            {"integration-name": "GitHub", "external-doc-url": "https://docs.github.com/en/rest", "tags": ["software"]},
            {"integration-name": "GitLab", "external-doc-url": "https://docs.gitlab.com/api/", "tags": ["software"]},
        ],
        "hooks": [
            {"integration-name": "HishamOS", "python-modules": ["airflow_provider_hisham.hooks.hishamos"]},
            {"integration-name": "GitLab", "python-modules": ["airflow_provider_hisham.hooks.gitlab"]},
            {"integration-name": "GitHub", "python-modules": ["airflow_provider_hisham.hooks.github"]},
        ],
        "operators": [
            {
                "integration-name": "HishamOS",
                "python-modules": [
                    "airflow_provider_hisham.operators.agent",
                    "airflow_provider_hisham.operators.api_call",
                    "airflow_provider_hisham.operators.file_generation",
                    "airflow_provider_hisham.operators.repo_creation",
                    "airflow_provider_hisham.operators.approval",
                    "airflow_provider_hisham.operators.retention",
                    "airflow_provider_hisham.operators.pull_request",
                    "airflow_provider_hisham.operators.combine_projects",
                ],
            }
        ],
        "extra-links": ["airflow_provider_hisham.links.repository.RepositoryLink"],
        "secrets-backends": ["airflow_provider_hisham.secrets_backend.FernetSecretsBackend"],
        "config": provider_config(),
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_hisham.hooks.hishamos.HishamOSHook",
                "hook-name": "HishamOS",
                "connection-type": "hishamos",
                "conn-fields": {
                    "auth_mode": {
                        "label": "Auth mode",
                        "description": "password: Login is the user's email and Password their password. "
                        "jwt_secret: mint short-lived tokens for the run's user with the shared JWT secret. "
                        "api_key: send the API key as X-API-Key.",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["password", "jwt_secret", "api_key"],
                            "default": "password",
                        },
                    },
                    "jwt_secret": {
                        "label": "JWT secret (auth mode jwt_secret)",
                        "description": "The backend's JWT_SECRET_KEY, used to sign HS256 access tokens.",
                        "schema": _SECRET,
                    },
                    "api_key": {"label": "API key (auth mode api_key)", "schema": _SECRET},
                    "default_user_id": {
                        "label": "Default user id (auth mode jwt_secret)",
                        "description": "UUID of the HishamOS user to act as when a task gives none.",
                        "schema": _STR,
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 30},
                    },
                    "verify_ssl": {
                        "label": "Verify TLS certificates",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["port", "extra"],
                    "relabeling": {
                        "host": "HishamOS URL",
                        "schema": "Scheme (http or https)",
                        "login": "Email (auth mode password)",
                        "password": "Password (auth mode password)",
                    },
                    "placeholders": {
                        "host": "https://hishamos.example.com",
                        "login": "agent@example.com",
                    },
                },
            },
            {
                "hook-class-name": "airflow_provider_hisham.hooks.gitlab.GitlabRepositoryHook",
                "hook-name": "GitLab",
                "connection-type": "gitlab",
                "conn-fields": {
                    "token_type": {
                        "label": "Token type",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["private", "oauth"],
                            "default": "private",
                        },
                        "description": "private: a personal, group or project access token. oauth: an OAuth2 token.",
                    },
                    "namespace": {
                        "label": "Default namespace (group path)",
                        "description": "Group or subgroup path where new projects are created; empty means the token's user.",
                        "schema": _STR,
                    },
                    "verify_ssl": {
                        "label": "Verify TLS certificates",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login", "extra"],
                    "relabeling": {"host": "GitLab URL", "password": "Access token"},
                    "placeholders": {"host": "https://gitlab.com"},
                },
            },
        ],
    }
