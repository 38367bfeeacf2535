# The Airflow image with airflow-provider-hisham installed; used by docker-compose.yaml.
#   docker build -t airflow-provider-hisham:latest .
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2
FROM ${AIRFLOW_IMAGE}

# git is needed by the repo_creation and pull_request steps (export runs the git command line).
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

# Install the provider next to the Airflow version the image ships (pinning apache-airflow keeps
# pip from up- or downgrading it), as the official "extending the image" guide recommends.
COPY --chown=airflow:root pyproject.toml README.md /opt/airflow-provider-hisham/
COPY --chown=airflow:root airflow_provider_hisham /opt/airflow-provider-hisham/airflow_provider_hisham
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/airflow-provider-hisham \
 && airflow providers list | grep -q airflow-provider-hisham
