# shellcheck shell=bash disable=SC2034  # the counters are read by the scripts that source this
# Shared by the two container tests, docker/test-images.sh and docker/test-compose.sh, and by
# the image build, docker/images.sh (sourced from the repository's root, not run): the Docker
# helpers of docker/lib.sh, the Python tools on PATH, and how the tests report steps and count
# their assertions.
#
#   say TEXT...              a step heading
#   die TEXT...              stop the test with "FAILED: TEXT"
#   check WHAT COMMAND...    run COMMAND; print "ok" or "FAIL" with WHAT and count it in
#                            passed/failed (the failed ones also in failures)
#   skip_without_docker WHAT exit 0, loudly, when no Docker engine is reachable

# The Python tools (hadolint, the SBOM checker, the validator's libraries) live in the
# virtualenv under the build directory; its python3 comes first.
PATH="$(dirname "$(bash scripts/python-env.sh)"):$PATH"
export PATH
# shellcheck source=docker/lib.sh
source docker/lib.sh

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
