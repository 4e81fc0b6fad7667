#!/usr/bin/env bash
# comm_gateway developer commands.
#
#   ./dev.sh run    set everything up and serve Odoo 18 with comm_gateway on http://localhost:8069
#   ./dev.sh test   set everything up, create a fresh database, install comm_gateway with its
#                   tests, print "N passed, N failed" last and exit non-zero on any failure,
#                   error, skipped test or install failure
#   ./dev.sh test-odoo  Odoo's own sms, sms_twilio and test_mail_sms suites with comm_gateway
#                   installed (no company using our accounts), same reporting
#   ./dev.sh shell  an Odoo shell on the run database
#
# Environment: ODOO_SRC (Odoo 18 source tree), ODOO_HTTP_PORT (8069), ODOO_DB (comm_gateway),
# ODOO_ARGS (extra odoo-bin arguments, e.g. "--workers=2"), COMM_GATEWAY_KEY (encryption key).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}"
ODOO_SRC="${ODOO_SRC:-$CACHE_HOME/odoo/18.0}"
ODOO_DB="${ODOO_DB:-comm_gateway}"
STATE="$CACHE_HOME/comm_gateway"
VENV="$STATE/venv"
PY="${PYTHON:-python3}"
mkdir -p "$STATE"

say() { printf '\033[1m[comm_gateway]\033[0m %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

# --------------------------------------------------------------------------------------------
# System packages (Debian 12): PostgreSQL, headers for psycopg2 / python-ldap, Chromium for tours
# --------------------------------------------------------------------------------------------
apt_deps() {
    local missing=() pkg
    for pkg in postgresql libpq-dev libldap2-dev libsasl2-dev chromium "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --------------------------------------------------------------------------------------------
# Odoo source: $ODOO_SRC, else a shallow clone of the official 18.0 branch, else a clear stop
# --------------------------------------------------------------------------------------------
odoo_src() {
    [ -x "$ODOO_SRC/odoo-bin" ] || [ -f "$ODOO_SRC/odoo-bin" ] && return 0
    say "no Odoo 18 tree in ODOO_SRC=$ODOO_SRC; trying a shallow clone of the official 18.0 branch"
    mkdir -p "$(dirname "$ODOO_SRC")"
    if timeout 900 git clone -q --depth 1 --branch 18.0 https://github.com/odoo/odoo.git "$ODOO_SRC.tmp" 2>/dev/null; then
        mv "$ODOO_SRC.tmp" "$ODOO_SRC"
        return 0
    fi
    rm -rf "$ODOO_SRC.tmp"
    die "Odoo 18 source not found. Provide it and point ODOO_SRC at it, e.g.:
    git clone --depth 1 --branch 18.0 https://github.com/odoo/odoo.git \"$ODOO_SRC\"
  or unpack any Odoo 18.0 community tree (the folder that holds odoo-bin) and run
    ODOO_SRC=/path/to/odoo-18.0 $0 ${CMD:-test}"
}

# --------------------------------------------------------------------------------------------
# Virtual environment outside the checkout, rebuilt when a requirements file changes
# --------------------------------------------------------------------------------------------
venv() {
    # Several dev.sh may start at once (parallel test runs): one at a time decides and builds,
    # each with its own copy of the requirements, so none rebuilds the venv under the others.
    mkdir -p "$STATE"
    exec 9>"$STATE/venv.lock"
    flock 9
    venv_locked
    exec 9>&-
}

venv_locked() {
    local reqs="$STATE/odoo-requirements.txt" stamp
    # Odoo's requirements.txt does not install as-is on Python 3.11 with today's pip:
    # cbor2==5.4.2 only ships an sdist whose build needs pkg_resources and comes out as version
    # 0.0.0; 5.6.2 ships a cp311 wheel and keeps the same API. Nothing else is overridden.
    local new="$reqs.$$"
    sed -E 's/^cbor2==5\.4\.2( *;.*)?$/cbor2==5.6.2\1/' "$ODOO_SRC/requirements.txt" > "$new"
    stamp="$( (cat "$new" "$HERE/requirements.txt"; "$PY" --version; echo v3) | sha256sum | cut -c1-16)"
    if [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$stamp" ]; then
        rm -f "$new"; return 0
    fi
    mv "$new" "$reqs"
    say "building the virtual environment in $VENV (once; cached afterwards)"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    # setuptools<70 still provides pkg_resources, which several of Odoo's pinned sdists import at
    # build time; --no-build-isolation makes those builds use it instead of a fresh setuptools.
    "$VENV/bin/pip" install -q --upgrade pip "setuptools<70" wheel
    "$VENV/bin/pip" install -q --no-build-isolation -r "$reqs" -r "$HERE/requirements.txt" \
        2> >(grep -v "is ignored: it is neither" >&2)  # drop pip's find-links noise, keep its exit code
    echo "$stamp" > "$VENV/.stamp"
}

# --------------------------------------------------------------------------------------------
# Private PostgreSQL cluster on a free loopback port. PostgreSQL refuses to run as root: as root
# the cluster belongs to Debian's "postgres" system user. Only a cluster we start is stopped.
# --------------------------------------------------------------------------------------------
PG_STARTED=""
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_free() { "$PY" -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }

pg_start() {
    local bin; bin="$(pg_bin)"; [ -n "$bin" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
    if [ "$(id -u)" = 0 ]; then PGROOT="/var/lib/postgresql/comm_gateway"; else PGROOT="$STATE/pg"; fi
    PGDATA_DIR="$PGROOT/data"
    if [ "$(id -u)" = 0 ]; then mkdir -p "$PGROOT" && chown postgres: "$PGROOT"; else mkdir -p "$PGROOT"; fi
    if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
        say "creating a private PostgreSQL cluster in $PGDATA_DIR"
        pg_as "$bin/initdb" -D "$PGDATA_DIR" -U odoo --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if pg_as "$bin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
        PGPORT="$(cat "$PGROOT/port")"
    else
        PGPORT="$(free_port)"
        pg_as sh -c "echo $PGPORT > '$PGROOT/port'"
        pg_as "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$PGROOT/server.log" -w -t 60 start \
            -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGROOT -c fsync=off -c max_connections=200" >/dev/null
        PG_STARTED=1
        say "PostgreSQL started on 127.0.0.1:$PGPORT"
    fi
    export PGHOST=127.0.0.1 PGPORT PGUSER=odoo
}
pg_stop() {
    if [ -n "$PG_STARTED" ]; then
        pg_as "$(pg_bin)/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
        PG_STARTED=""
    fi
}
psql_q() { "$(pg_bin)/psql" -X -q -d postgres -tAc "$1"; }
db_has_modules() {  # db_has_modules DB a,b,c: DB exists with every one of them installed
    local names="'${2//,/\',\'}'"
    [ "$(psql_q "SELECT 1 FROM pg_database WHERE datname='$1'")" = 1 ] || return 1
    [ "$("$(pg_bin)/psql" -X -q -d "$1" -tAc "SELECT count(*) FROM ir_module_module
            WHERE state = 'installed' AND name IN ($names)" 2>/dev/null)" = "$(tr ',' '\n' <<< "$2" | wc -l)" ]
}

# --------------------------------------------------------------------------------------------
# Odoo invocation
# --------------------------------------------------------------------------------------------
addons_dir() {
    # The checkout is linked under the name comm_gateway, whatever its own folder is called;
    # one folder per checkout so that two clones never see each other's code.
    ADDONS="$STATE/addons/$(printf %s "$HERE" | sha256sum | cut -c1-12)"
    mkdir -p "$ADDONS"
    ln -sfn "$HERE" "$ADDONS/comm_gateway"
    local bridge
    for bridge in "$HERE"/bridges/*/; do
        ln -sfn "${bridge%/}" "$ADDONS/$(basename "$bridge")"
    done
}
# comm_gateway and the bridges whose Odoo modules this tree has: the SMS Marketing bridge always,
# the sms_twilio bridge on the current 18.0 layout only (the May 2025 tree has no sms_twilio)
our_modules() {
    local modules=comm_gateway
    [ -d "$ODOO_SRC/addons/mass_mailing_sms" ] && modules+=",comm_gateway_mass_mailing_sms"
    [ -d "$ODOO_SRC/addons/sms_twilio" ] && modules+=",comm_gateway_sms_twilio"
    echo "$modules"
}
our_dependencies() {
    local modules=crm,sms,phone_validation
    [ -d "$ODOO_SRC/addons/mass_mailing_sms" ] && modules+=",mass_mailing_sms"
    [ -d "$ODOO_SRC/addons/sms_twilio" ] && modules+=",sms_twilio"
    echo "$modules"
}
odoo_args() {
    ODOO_ARGV=(--addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$ADDONS"
               --db_host=127.0.0.1 --db_port="$PGPORT" --db_user=odoo
               --data-dir="$STATE/data" --http-port="$1" --http-interface=127.0.0.1)
}
setup() {
    apt_deps
    odoo_src
    venv
    addons_dir
    pg_start
}
tree_stamp() { (cd "$HERE" && { git ls-files -s 2>/dev/null; git diff 2>/dev/null; } | sha256sum | cut -c1-16); }

cmd_run() {
    setup
    trap pg_stop EXIT
    local port="${ODOO_HTTP_PORT:-8069}" stampf="$STATE/db-$ODOO_DB.stamp"
    odoo_args "$port"
    port_free "$port" || die "port $port is in use: set ODOO_HTTP_PORT"
    if [ "$(psql_q "SELECT 1 FROM pg_database WHERE datname='$ODOO_DB'")" != 1 ]; then
        say "creating database $ODOO_DB with comm_gateway and demo data (first run only)"
        "$VENV/bin/python" "$ODOO_SRC/odoo-bin" "${ODOO_ARGV[@]}" -d "$ODOO_DB" -i comm_gateway \
            --stop-after-init --log-level=warn
        tree_stamp > "$stampf"
    elif [ "$(cat "$stampf" 2>/dev/null)" != "$(tree_stamp)" ]; then
        say "the checkout changed: updating comm_gateway in $ODOO_DB"
        "$VENV/bin/python" "$ODOO_SRC/odoo-bin" "${ODOO_ARGV[@]}" -d "$ODOO_DB" -u comm_gateway \
            --stop-after-init --log-level=warn
        tree_stamp > "$stampf"
    fi
    say "serving http://localhost:$port (login admin / admin, database $ODOO_DB)"
    # shellcheck disable=SC2086
    "$VENV/bin/python" "$ODOO_SRC/odoo-bin" "${ODOO_ARGV[@]}" -d "$ODOO_DB" ${ODOO_ARGS:-}
}

# In a fresh database DB, install PRE (no tests), then MODULES with --test-enable; run TAGS and
# print "N passed, N failed". Odoo imports the tests of every module a --test-enable run installs,
# whatever the tags: installing what we build on beforehand keeps their tests out of our run (on
# the current-layout tree, mass_mailing_sms's own tests do not even import with the newer sms).
run_tests() {
    local db="$1" modules="$2" tags="$3" pre="$4"; shift 4
    local port="${ODOO_HTTP_PORT:-8069}" log="$STATE/test-$db.log" update=()
    odoo_args "$port"
    # TEST_KEEP_DB=1 (development only, never CI): reuse the database a previous run left with
    # every module installed, and update them instead of installing them in a fresh one.
    if [ "${TEST_KEEP_DB:-}" = 1 ] && db_has_modules "$db" "$modules"; then
        say "TEST_KEEP_DB=1: updating $modules in the existing database $db"
        update=(-u "$modules") pre=""
    else
        psql_q "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
        rm -rf "$STATE/data/filestore/$db"
    fi
    if [ -n "$pre" ]; then
        say "installing $pre in a fresh database $db on $ODOO_SRC"
        "$VENV/bin/python" "$ODOO_SRC/odoo-bin" "${ODOO_ARGV[@]}" -d "$db" -i "$pre" "$@" \
            --no-http --stop-after-init --log-level=warn || die "installing $pre failed"
    fi
    # the port is chosen last: another run may have taken a free one meanwhile
    port_free "$port" || { port="$(free_port)"; say "port ${ODOO_HTTP_PORT:-8069} busy, tests serve on $port"; }
    odoo_args "$port"
    say "installing $modules with tests in $db (log: $log)"
    # Odoo runs in its own session, writing to the log file; the console follows the file until
    # Odoo exits. A browser process a tour left behind can neither hold the console open nor
    # outlive the run: the whole session is killed at the end.
    # shellcheck disable=SC2086
    setsid "$VENV/bin/python" "$HERE/scripts/odoo_test_runner.py" "$STATE/test-result-$db.json" \
        "$ODOO_SRC/odoo-bin" "${ODOO_ARGV[@]}" -d "$db" -i "$modules" "${update[@]}" --test-enable \
        --test-tags="$tags" --stop-after-init --log-level=test "$@" \
        ${ODOO_ARGS:-} > "$log" 2>&1 < /dev/null &
    local odoo_pid=$!
    tail -n +1 -F --pid="$odoo_pid" "$log" 2>/dev/null | "$VENV/bin/python" "$HERE/scripts/odoo_test_runner.py" --filter
    wait "$odoo_pid" || true
    kill -TERM -- "-$odoo_pid" 2>/dev/null || true
    "$VENV/bin/python" "$HERE/scripts/odoo_test_runner.py" --summary "$STATE/test-result-$db.json" "$log"
}

cmd_test() {
    setup
    trap pg_stop EXIT
    # websocket-client: without it Odoo silently skips every tour (and counts it as passed).
    local modules; modules="$(our_modules)"
    run_tests "${ODOO_DB}_test" "$modules" "${TEST_TAGS:-/${modules//,/,/}}" "$(our_dependencies)"
}

# Odoo's own SMS test suites with comm_gateway (and its bridges) installed, in a database without
# demo data, where no company uses one of our accounts: we must change nothing of Odoo's behaviour
# there, query counts included.
cmd_test_odoo() {
    setup
    trap pg_stop EXIT
    local suites=sms,test_mail_sms
    [ -d "$ODOO_SRC/addons/sms_twilio" ] && suites+=",sms_twilio"
    local ours=comm_gateway   # the SMS Marketing bridge would install mass_mailing_sms, not under test here
    [ -d "$ODOO_SRC/addons/sms_twilio" ] && ours+=",comm_gateway_sms_twilio"
    run_tests "${ODOO_DB}_odoo_test" "$ours,$suites" "${TEST_TAGS:-/${suites//,/,/}}" "" --without-demo=all
}

cmd_shell() {
    setup
    trap pg_stop EXIT
    odoo_args "${ODOO_HTTP_PORT:-8069}"
    "$VENV/bin/python" "$ODOO_SRC/odoo-bin" shell "${ODOO_ARGV[@]}" -d "$ODOO_DB" --no-http
}

CMD="${1:-}"
case "$CMD" in
    run) cmd_run ;;
    test) cmd_test ;;
    test-odoo) cmd_test_odoo ;;
    shell) cmd_shell ;;
    setup) setup ;;
    *) echo "usage: $0 run|test|test-odoo|shell|setup" >&2; exit 2 ;;
esac
