# Installs shared by scripts/test.sh and scripts/quickstart.sh (sourced; each prints progress).
# Needs: ROOT (the clone), VENV, PY and a log function.

# Debian packages, one line per package fetched and set up; services are kept from starting
# (nginx would bind 0.0.0.0:80): the tests and the quickstart start their own on 127.0.0.1.
apt_install() {
  [ $# -gt 0 ] || return 0
  log "installing Debian packages: $*"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" \
    | { grep --line-buffered -E '^(Get:|Setting up)' || true; }
  $sudo rm -f /usr/sbin/policy-rc.d
}

# The local git server: nginx + fcgiwrap + git-http-backend, and htpasswd for its accounts.
git_server_packages() {
  command -v git >/dev/null || echo git
  [ -x /usr/sbin/nginx ] || echo nginx-light
  [ -x /usr/sbin/fcgiwrap ] || echo fcgiwrap
  command -v htpasswd >/dev/null || echo apache2-utils
}

# The provider with its test extra (the local stand-ins' dependencies) in $VENV, once per change
# of pyproject.toml or the constraints. The constraints are the versions the suite last ran green
# with, as Airflow's own constraints files are: without them pip backtracks for minutes between
# the amazon provider's and s3fs's botocore and may settle on an older Airflow than the tested
# one. Only for the Python they were frozen on.
venv_install() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.hisham-installed" constraints=constraints/test-py3.11.txt cflag=()
  if [ -f "$constraints" ] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    cflag=(-c "$constraints")
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$constraints" -nt "$stamp" ]; then
    log "installing airflow-provider-hisham[test] into $VENV (about a minute; one line per package)"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -e ".[test]" "${cflag[@]}" \
      | { grep --line-buffered -E '^(Collecting|Installing collected|Successfully)' || true; }
    touch "$stamp"
  fi
}
