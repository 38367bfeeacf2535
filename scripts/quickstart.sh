#!/usr/bin/env bash
# One command from a fresh clone to a finished example run in a real Airflow 3:
#   bash scripts/quickstart.sh                 # local HishamOS stand-in + local git server
#   AIRFLOW_CONN_HISHAMOS_DEFAULT='{...}' AIRFLOW_CONN_GITHUB_DEFAULT='{...}' bash scripts/quickstart.sh
# Creates/uses the virtual environment (.venv, or $HISHAM_VENV), installs the provider with the
# pieces the local stand-ins need, then runs scripts/quickstart.py (arguments go to it: --help).
# Everything it starts runs on 127.0.0.1 and is stopped on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
VENV=${HISHAM_VENV:-$ROOT/.venv}

log() { printf '[quickstart] %s\n' "$*" >&2; }

# A malformed --conf is reported in one line before anything is installed or started.
prev=""
for arg in "$@"; do
  conf=""
  case "$arg" in --conf=*) conf=${arg#--conf=} ;; esac
  [ "$prev" = "--conf" ] && conf=$arg
  if [ -n "$conf" ] && ! "$PY" -c 'import json,sys; v=json.loads(sys.argv[1]); sys.exit(0 if isinstance(v, dict) else 1)' "$conf" 2>/dev/null; then
    log "--conf must be a JSON object, e.g. --conf '{\"hishamos_project\": \"<uuid>\"}'; got: $conf"
    exit 2
  fi
  prev=$arg
done

# The local git server (nginx + fcgiwrap + git-http-backend); skipped when a real GitHub or
# GitLab connection is given.
# shellcheck source=scripts/install.sh
. scripts/install.sh
if [ -z "${AIRFLOW_CONN_GITHUB_DEFAULT:-}${AIRFLOW_CONN_GITLAB_DEFAULT:-}" ]; then
  apt_install $(git_server_packages)
fi
# Same venv and stamp as scripts/test.sh: the test extra holds the local stand-ins' dependencies.
venv_install

# scripts/quickstart.py stops what it started on exit, SIGTERM and Ctrl-C (process groups);
# the trap covers a kill of this shell before Python took over.
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"' INT TERM
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" scripts/quickstart.py "$@" &
child=$!
wait "$child"
