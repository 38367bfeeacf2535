#!/usr/bin/env bash
# The project's one test command: installs what the tests need (idempotent), then runs pytest.
#   bash scripts/test.sh            # the whole suite, as CI runs it
#   bash scripts/test.sh -k hook    # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
VENV=${HISHAM_VENV:-$ROOT/.venv}

log() { printf '\n== %s\n' "$*" >&2; }

# --- Debian packages: git smart-HTTP server (nginx + fcgiwrap), headless browser ----------
need_apt=()
command -v git >/dev/null || need_apt+=(git)
[ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
[ -x /usr/sbin/fcgiwrap ] || need_apt+=(fcgiwrap)
command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  # Keep services from starting (nginx would bind 0.0.0.0:80); tests start their own on 127.0.0.1.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

# --- npm tools: GitHub's API description, its validating mock, a browser driver ------------
if [ -f tests/node/package.json ]; then
  if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
    log "installing npm test tools"
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# --- Python: a virtual environment with the provider and its test extra ------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.hisham-installed"
# The versions the suite was last run green with, as Airflow's own constraints files do: without
# them pip backtracks for minutes between the amazon provider's and s3fs's botocore and may settle
# on an older Airflow than the tested one. Only for the Python they were frozen on.
constraints=constraints/test-py3.11.txt
cflag=()
if [ -f "$constraints" ] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  cflag=(-c "$constraints")
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$constraints" -nt "$stamp" ]; then
  log "installing airflow-provider-hisham[test]"
  "$VENV/bin/pip" install -q --upgrade pip
  # one line per package fetched, so a first install (about a minute) is not silent
  "$VENV/bin/pip" install -e ".[test]" "${cflag[@]}" | { grep --line-buffered -E '^(Collecting|Installing collected|Successfully)' || true; }
  touch "$stamp"
fi

# --- Local PostgreSQL and Redis (the machine's own services) ------------------------------
if command -v pg_ctlcluster >/dev/null && ! pg_isready -q -h 127.0.0.1 2>/dev/null; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true
fi

log "running the tests"
exec "$VENV/bin/python" -m pytest "$@"
