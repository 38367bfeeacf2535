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

# shellcheck source=scripts/install.sh
. scripts/install.sh

# --- Debian packages: git smart-HTTP server (nginx + fcgiwrap), headless browser ----------
need_apt=($(git_server_packages))
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
apt_install "${need_apt[@]}"

# --- npm tools: GitHub's API description, its validating mock, a browser driver ------------
if [ -f tests/node/package.json ]; then
  if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
    log "installing npm test tools"
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=http)  # a line per package fetched
  fi
fi

# --- Python: a virtual environment with the provider and its test extra ------------------
venv_install

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
