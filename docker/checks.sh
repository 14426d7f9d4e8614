# shellcheck shell=bash disable=SC2034  # the counters are read by the scripts that source this
# Shared by the two container tests, docker/test-images.sh and docker/test-compose.sh (sourced,
# not run): how they report steps and count their assertions.
#
#   say TEXT...              a step heading
#   die TEXT...              stop the test with "FAILED: TEXT"
#   check WHAT COMMAND...    run COMMAND; print "ok" or "FAIL" with WHAT and count it in
#                            passed/failed (the failed ones also in failures)
#   skip_without_docker WHAT exit 0, loudly, when no Docker engine is reachable (needs
#                            docker/lib.sh)

say() { printf '==> %s\n' "$*"; }
die() {
    printf '\nFAILED: %s\n' "$*" >&2
    exit 1
}

passed=0
failed=0
failures=()
check() { # check "what" command...: one assertion, reported, counted
    local what="$1"
    shift
    if "$@"; then
        printf '  ok   %s\n' "$what"
        passed=$((passed + 1))
    else
        printf '  FAIL %s\n' "$what"
        failed=$((failed + 1))
        failures+=("$what")
    fi
}

skip_without_docker() {
    if ! docker_up; then
        echo "######################################################################"
        echo "## SKIPPED: no Docker engine reachable; $1 did not run"
        echo "######################################################################"
        exit 0
    fi
}
