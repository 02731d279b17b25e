#!/usr/bin/env bash
# Installs what SchoolSync needs that a fresh machine of this kind may lack. Idempotent: it only
# installs what is missing. Run as root (CI does); otherwise it says what to install.
set -euo pipefail

need_apt=()
command -v swift >/dev/null || { echo "error: swift is not on PATH (Swift 6.1 or newer is required)" >&2; exit 1; }
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need_apt+=(libsqlite3-dev)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need_apt+=(zlib1g-dev)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
# PostgreSQL's server binaries, for the tests that start a cluster of their own (PostgresCluster).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need_apt+=(postgresql)
# HAProxy, the load balancer Scripts/loadbalancer.sh puts in front of two servers (EndToEndTests' LoadBalancerTests).
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)

if ((${#need_apt[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: missing Debian packages: ${need_apt[*]} — run: sudo apt-get install ${need_apt[*]}" >&2
        exit 1
    fi
    echo "bootstrap: installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# PostgreSQL refuses to run as root; the tests run its server as `postgres` when CI runs them as root.
if [[ $(id -u) -eq 0 ]] && ! getent passwd postgres >/dev/null; then
    echo "bootstrap: adding the system user postgres"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
    echo "bootstrap: installing openapi-spec-validator (PyPI)"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore openapi-spec-validator
fi

# The fixed seed of Scripts/check-schemathesis.sh gives the same cases only on the same version.
if ! python3 -c 'import schemathesis, sys; sys.exit(schemathesis.__version__ != "4.32.5")' 2>/dev/null; then
    echo "bootstrap: installing schemathesis 4.32.5 (PyPI)"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore 'schemathesis==4.32.5'
fi
