"""Run Odoo's test-enabled install and turn its outcome into one honest line.

Three modes, used by ``dev.sh test``:

``odoo_test_runner.py RESULT.json ODOO_BIN ARGS...``
    runs odoo-bin in this process and, once the registry is loaded (tests included), writes the
    counters of Odoo's own test report (``registry._assertion_report``) and whether the module
    got installed to RESULT.json;
``odoo_test_runner.py --filter``
    copies the log from stdin to stdout keeping only warnings, errors and their tracebacks;
``odoo_test_runner.py --summary RESULT.json LOG``
    prints ``N passed, N failed`` as its last line and exits 1 on any failure, error, skipped
    test, install failure or unexpected error in the log, or when no test ran.
"""
import json
import re
import runpy
import sys

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) ")


def run(result_path, odoo_bin, args):
    sys.argv = [odoo_bin, *args]
    sys.path.insert(0, __import__("os").path.dirname(odoo_bin))
    import odoo.service.server as server  # noqa: PLC0415

    outcome = {"loaded": False}
    modules = args[args.index("-i") + 1].split(",") if "-i" in args else ["comm_gateway"]
    preload = server.preload_registries

    def preload_and_report(dbnames):
        rc = preload(dbnames)
        from odoo.modules.registry import Registry  # noqa: PLC0415
        for dbname in dbnames or []:
            registry = Registry.registries.get(dbname)
            if registry is None:
                continue
            report = registry._assertion_report
            with registry.cursor() as cr:
                cr.execute("SELECT name FROM ir_module_module WHERE name = ANY(%s) AND state = 'installed'",
                           [modules])
                missing = sorted(set(modules) - {name for name, in cr.fetchall()})
            outcome.update(
                loaded=True, rc=rc, installed=not missing, not_installed=missing,
                tests_run=report.testsRun, failures=report.failures_count,
                errors=report.errors_count, skipped=report.skipped,
            )
        with open(result_path, "w") as f:
            json.dump(outcome, f)
        return rc

    server.preload_registries = preload_and_report
    with open(result_path, "w") as f:
        json.dump(outcome, f)
    try:
        runpy.run_path(odoo_bin, run_name="__main__")
    except SystemExit as exc:
        return exc.code or 0
    return 0


def log_filter():
    keep = False
    for line in sys.stdin:
        match = RECORD.match(line)
        if match:
            keep = match["level"] in ("WARNING", "ERROR", "CRITICAL")
        if keep:
            sys.stdout.write(line)
            sys.stdout.flush()


def summary(result_path, log_path):
    try:
        with open(result_path) as f:
            outcome = json.load(f)
    except (OSError, ValueError):
        outcome = {}
    problems = []
    error_lines = 0
    with open(log_path, errors="replace") as f:
        for line in f:
            match = RECORD.match(line)
            if match and match["level"] in ("ERROR", "CRITICAL"):
                error_lines += 1
    run_ = outcome.get("tests_run", 0)
    bad = outcome.get("failures", 0) + outcome.get("errors", 0)
    skipped = outcome.get("skipped", 0)
    if not outcome.get("loaded"):
        problems.append("Odoo did not finish loading the database (see the log)")
    elif not outcome.get("installed"):
        problems.append(f"not installed: {', '.join(outcome.get('not_installed') or ['comm_gateway'])}")
    if skipped:
        problems.append(f"{skipped} test(s) skipped: a skipped test is a failure here")
    if not run_:
        problems.append("no test ran")
    if error_lines and not bad:
        problems.append(f"{error_lines} ERROR/CRITICAL line(s) in the log outside failing tests")
    failed = bad + skipped + (0 if not problems or bad or skipped else 1)
    passed = max(run_ - bad - skipped, 0)
    for problem in problems:
        print(f"test: {problem}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    if sys.argv[1] == "--filter":
        log_filter()
    elif sys.argv[1] == "--summary":
        sys.exit(summary(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(run(sys.argv[1], sys.argv[2], sys.argv[3:]))
