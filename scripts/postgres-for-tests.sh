#!/bin/sh
# A throwaway PostgreSQL server for gnfc's database tests (data/tests/db.rs).
#
#   eval "$(scripts/postgres-for-tests.sh)"    # then: cargo test -p gnfc-data
#
# Idempotent: installs PostgreSQL if missing (Debian, as root), creates a cluster in
# $GNFC_PG_DIR (default /tmp/gnfc-postgres) owned by the `postgres` user, starts it in the
# background on 127.0.0.1:$GNFC_PG_PORT (default 54329) with trust authentication, creates
# the database `gnfc_test`, and prints the one line a shell needs:
#
#   export GNFC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:54329/gnfc_test
#
# Running it again reuses the cluster (starting it if it stopped). Every message other than
# that line goes to stderr. The tests create one database per test next to `gnfc_test`, so
# the role in the URL must be allowed to create databases (here: the superuser).
#
# Stop and remove:  runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V |
#   tail -n1)/pg_ctl" -D /tmp/gnfc-postgres/data stop && rm -rf /tmp/gnfc-postgres
set -eu

dir=${GNFC_PG_DIR:-/tmp/gnfc-postgres}
port=${GNFC_PG_PORT:-54329}
db=gnfc_test

say() { printf 'postgres-for-tests: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

pg_bin() {
    # The newest installed server version's binaries, e.g. /usr/lib/postgresql/15/bin.
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bin=$(pg_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; run this script as root to install it (apt-get install postgresql)"
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and there is no apt-get: install the PostgreSQL server (initdb, pg_ctl) and run this again"
    say "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # Try the local package lists first (works offline); refresh them only if that fails.
    if ! apt-get install -y --no-install-recommends postgresql >&2; then
        apt-get update >&2
        apt-get install -y --no-install-recommends postgresql >&2
    fi
    bin=$(pg_bin)
    [ -n "$bin" ] && [ -x "$bin/initdb" ] || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb exists"
fi

id postgres >/dev/null 2>&1 || die "there is no 'postgres' user (the postgresql-common package creates it)"

# Run a server binary as the postgres user (the server refuses to run as root).
as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    elif [ "$(id -un)" = postgres ]; then
        "$@"
    else
        die "run this script as root or as the postgres user"
    fi
}

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    chmod 0700 "$dir"
else
    mkdir -p "$dir"
fi

if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "creating a cluster in $dir/data"
    rm -rf "$dir/data"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-locale -E UTF8 >&2
fi

if as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    say "server already running in $dir/data"
else
    say "starting the server on 127.0.0.1:$port"
    # Durability is pointless for test data; fsync off makes migrations and commits fast.
    # (pg_ctl hands -o to a shell: keep it on one line.)
    opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300"
    opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$opts" start >&2 \
        || die "the server did not start; see $dir/server.log"
fi

psql_admin() {
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

# Wait (bounded) until it accepts connections: pg_ctl -w returns once the server is up, but a
# server found already running may still be starting.
tries=0
until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do
    tries=$((tries + 1))
    [ "$tries" -le 60 ] || die "the server on 127.0.0.1:$port does not accept connections; see $dir/server.log"
    sleep 0.5
done

if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    say "creating database $db"
    psql_admin -c "CREATE DATABASE $db" >&2
fi

echo "export GNFC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/$db"
