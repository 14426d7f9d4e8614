#!/usr/bin/env bash
# Start a private MariaDB for the ratings tests and load ratings/sql/mysqldb-init.sql.
#
#   ratings/scripts/mariadb-test-server.sh [DIR] [PORT]
#
# DIR (default /tmp/bookinfo-mariadb) holds the data directory, socket, pid file and log;
# PORT (default 13306) is bound on 127.0.0.1 only. The server runs in the background as user
# `mysql` with a real root password (env MARIADB_ROOT_PASSWORD, default `password`), so it does
# not disturb a system MariaDB. Safe to run again: an already running instance is reused and the
# schema is reloaded. On success the last line printed is the variable the tests read:
#
#   export BOOKINFO_TEST_MYSQL=127.0.0.1:13306:root:password
#
# Stop it with: kill "$(cat DIR/mariadbd.pid)" (scripts/test.sh does, on exit). Installs nothing:
# `make deps` does that.
set -euo pipefail

dir="${1:-/tmp/bookinfo-mariadb}"
port="${2:-13306}"
password="${MARIADB_ROOT_PASSWORD:-password}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
init_sql="$here/../sql/mysqldb-init.sql"
datadir="$dir/data"
socket="$dir/mysqld.sock"
pidfile="$dir/mariadbd.pid"
log="$dir/mariadbd.log"

die() { echo "mariadb-test-server: $*" >&2; exit 1; }
say() { echo "mariadb-test-server: $*" >&2; }

[[ -f "$init_sql" ]] || die "missing $init_sql"

export PATH="$PATH:/usr/sbin:/usr/bin"
command -v mariadbd >/dev/null || die "mariadbd not found (make deps installs mariadb-server)"
command -v mariadb >/dev/null || die "mariadb client not found"

# Run as `mysql` when we are root (mariadbd refuses root unless told otherwise); as the
# current user otherwise.
run_as=()
user_opt=()
if [[ "$(id -u)" -eq 0 ]]; then
  id mysql >/dev/null 2>&1 || die "user mysql does not exist (is mariadb-server installed?)"
  user_opt=(--user=mysql)
fi

client() {
  mariadb --protocol=TCP --host=127.0.0.1 --port="$port" --user=root --password="$password" \
    --connect-timeout=2 "$@"
}

running() {
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

mkdir -p "$dir"
if [[ "$(id -u)" -eq 0 ]]; then chown mysql:mysql "$dir"; fi

if running; then
  say "reusing the instance already running in $dir (pid $(cat "$pidfile"))"
else
  if [[ ! -d "$datadir/mysql" ]]; then
    say "initialising a data directory in $datadir"
    rm -rf "$datadir"
    mkdir -p "$datadir"
    if [[ "$(id -u)" -eq 0 ]]; then chown mysql:mysql "$datadir"; fi
    mariadb-install-db "${user_opt[@]}" --datadir="$datadir" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
      || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  fi
  say "starting mariadbd on 127.0.0.1:$port"
  # No --daemonize: the shell keeps the child in the background and survives its own exit.
  nohup mariadbd --no-defaults "${user_opt[@]}" --datadir="$datadir" --port="$port" \
    --bind-address=127.0.0.1 --socket="$socket" --pid-file="$pidfile" \
    --log-error="$log" --skip-name-resolve --innodb-buffer-pool-size=32M \
    >/dev/null 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    if mariadb-admin --protocol=SOCKET --socket="$socket" --user=root ping >/dev/null 2>&1 \
       || client -e 'SELECT 1' >/dev/null 2>&1; then
      break
    fi
    sleep 0.5
  done
  running || { tail -n 30 "$log" >&2 || true; die "mariadbd did not start; see $log"; }
fi

# mariadb-install-db leaves root without a password (and with extra root@host accounts);
# give root a real password on localhost and 127.0.0.1 and drop the rest. Runs again if an
# earlier attempt stopped half-way.
if ! client -e 'SELECT 1' >/dev/null 2>&1; then
  secure="ALTER USER 'root'@'localhost' IDENTIFIED BY '$password';
    DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'$(hostname)';
    CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY '$password';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    FLUSH PRIVILEGES;"
  mariadb --protocol=SOCKET --socket="$socket" --user=root -e "$secure" 2>/dev/null \
    || mariadb --protocol=SOCKET --socket="$socket" --user=root --password="$password" -e "$secure" \
    || { tail -n 30 "$log" >&2 || true; die "could not set the root password"; }
fi

client -e 'SELECT 1' >/dev/null 2>&1 \
  || { tail -n 30 "$log" >&2 || true; die "MariaDB on 127.0.0.1:$port does not accept root/\$MARIADB_ROOT_PASSWORD"; }
client <"$init_sql" || die "loading $init_sql failed"
rows="$(client -N -B -e 'SELECT COUNT(*) FROM test.ratings')"
[[ "$rows" == 2 ]] || die "expected 2 rows in test.ratings, found $rows"

say "ready; data directory $datadir, log $log, pid $(cat "$pidfile")"
echo "export BOOKINFO_TEST_MYSQL=127.0.0.1:$port:root:$password"
