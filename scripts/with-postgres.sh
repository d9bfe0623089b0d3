#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server of its own, for the tests:
#   scripts/with-postgres.sh COMMAND [ARGUMENT...]
# initdb in a temporary folder (as the `postgres` user when run as root: PostgreSQL refuses root), a
# free port on 127.0.0.1, trust authentication for the test user `chainvault`; the command sees the
# server as CHAINVAULT_TEST_DATABASE_URL. The server is stopped by its PID when the command ends,
# whatever happened, and its folder removed. Fails, rather than running the command without it, when
# the server cannot start. Debian's `postgresql` package (make test-deps) provides initdb and pg_ctl,
# which are not on PATH: pg_config --bindir or /usr/lib/postgresql/N/bin.
set -euo pipefail

bindir=""
for candidate in "$(pg_config --bindir 2>/dev/null || true)" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then bindir=$candidate; break; fi
done
if [ -z "$bindir" ]; then
    echo "with-postgres: no initdb and pg_ctl: install Debian's postgresql (make test-deps)" >&2
    exit 1
fi

dir=$(mktemp -d /tmp/chainvault-postgres.XXXXXX)
chmod 755 "$dir"
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
pid=""
stop() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap stop EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if ! as_owner "$bindir/initdb" -D "$dir/data" -U chainvault --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    echo "with-postgres: initdb failed" >&2
    exit 1
fi
# fsync off: a throwaway server for tests, never data anyone keeps.
if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null; then
    cat "$dir/server.log" >&2
    echo "with-postgres: the server did not start" >&2
    exit 1
fi
pid=$(head -1 "$dir/data/postmaster.pid")
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (pid $pid)" >&2

export CHAINVAULT_TEST_DATABASE_URL="postgres://chainvault@127.0.0.1:$port/postgres"
status=0
"$@" || status=$?
exit $status
