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
if [ -z "${AIRFLOW_CONN_GITHUB_DEFAULT:-}${AIRFLOW_CONN_GITLAB_DEFAULT:-}" ]; then
  need_apt=()
  command -v git >/dev/null || need_apt+=(git)
  [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
  [ -x /usr/sbin/fcgiwrap ] || need_apt+=(fcgiwrap)
  command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
  if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing Debian packages for the local git server: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null  # no nginx on 0.0.0.0:80
    $SUDO chmod +x /usr/sbin/policy-rc.d
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    $SUDO rm -f /usr/sbin/policy-rc.d
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
# Same stamp as scripts/test.sh: the test extra holds the local stand-ins' dependencies.
stamp="$VENV/.hisham-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing airflow-provider-hisham[test] into $VENV (about a minute; pip shows its progress)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -e ".[test]" | { grep --line-buffered -E '^(Collecting|Installing collected|Successfully)' || true; }
  touch "$stamp"
fi

# scripts/quickstart.py stops what it started on exit, SIGTERM and Ctrl-C (process groups);
# the trap covers a kill of this shell before Python took over.
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"' INT TERM
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" scripts/quickstart.py "$@" &
child=$!
wait "$child"
