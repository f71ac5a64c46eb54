#!/bin/sh
# First start: initdb into PGDATA (superuser POSTGRES_USER with POSTGRES_PASSWORD, scram-sha-256
# over TCP from anywhere, trust on the local socket), create POSTGRES_DB, run
# /docker-entrypoint-initdb.d/*.sql on it. Every start: exec the server with the given arguments.
set -eu

if [ "${1:-}" != "postgres" ] && [ "${1#-}" = "${1:-}" ]; then
    exec "$@"  # another command (psql, pg_isready, sh …)
fi
[ "${1:-}" = "postgres" ] && shift

: "${PGDATA:?PGDATA must be set}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
SOCKET_DIR="${PGSOCKET_DIR:-/var/run/postgresql}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "POSTGRES_PASSWORD is required to initialise $PGDATA" >&2
        exit 1
    fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    # socket only while initialising: no client can connect before the init scripts ran
    pg_ctl --pgdata="$PGDATA" --wait --silent \
        --options="-c listen_addresses='' -c unix_socket_directories=$SOCKET_DIR" start
    if [ "$POSTGRES_DB" != "postgres" ]; then
        psql --host="$SOCKET_DIR" --username="$POSTGRES_USER" --dbname=postgres \
            --set=ON_ERROR_STOP=1 --no-psqlrc --quiet \
            --command="CREATE DATABASE \"$POSTGRES_DB\""
    fi
    for script in /docker-entrypoint-initdb.d/*.sql; do
        [ -e "$script" ] || continue
        echo "running $script"
        psql --host="$SOCKET_DIR" --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" \
            --set=ON_ERROR_STOP=1 --no-psqlrc --quiet --file="$script"
    done
    pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' -c "unix_socket_directories=$SOCKET_DIR" "$@"
