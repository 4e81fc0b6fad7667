#!/usr/bin/env bash
# Run a comm_gateway benchmark: bench/run.sh webhooks|statuses|dispatch|prefork|overview|chaos|campaign|retention [options]  (--help for the options)
#
# ./dev.sh setup first (venv, Odoo source, PostgreSQL, addons link), then the script with the
# venv's Python. Environment as for dev.sh: ODOO_SRC; ODOO_DB defaults to cg_bench and
# ODOO_HTTP_PORT to 18469 (gevent port: the next one) so that a benchmark never meets a test run.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME="${1:-}"
case "$NAME" in
    webhooks|statuses|dispatch|prefork|overview|chaos|campaign|retention) shift ;;
    *) echo "usage: $0 webhooks|statuses|dispatch|prefork|overview|chaos|campaign|retention [options]" >&2; exit 2 ;;
esac
export ODOO_DB="${ODOO_DB:-cg_bench}" ODOO_HTTP_PORT="${ODOO_HTTP_PORT:-18469}"
"$HERE/../dev.sh" setup
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/comm_gateway/venv"
exec "$VENV/bin/python" "$HERE/$NAME.py" "$@"
