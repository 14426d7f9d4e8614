#!/usr/bin/env bash
# The image test: what each image contains and how its container behaves, against the real
# Docker engine, one image at a time (docker/test-compose.sh then tests them together).
#
#   1. size: productpage, details and tracecheck at most 25 MB, reviews and ratings at most
#      40 MB (MB = 10^6 bytes, as `docker image ls` counts);
#   2. contents, read from the image's layers: nothing but the binary, its SBOM, the C library
#      and friends, CA certificates, /etc/passwd and /etc/group with UID/GID 1000 alone,
#      nsswitch.conf, and curl (reviews, ratings) and bash (ratings) with their libraries: no
#      /bin/sh, no package manager anywhere, no curl where it is not promised;
#   3. configuration: user 1000:1000, EXPOSE 9080, OCI labels, the healthcheck is the service
#      binary's --health-check, the SBOM label names the SBOM;
#   4. the SBOM lists exactly the crates of Cargo.lock compiled into the binary (docker/sbom.py);
#   5. no shell can be started in productpage, details and tracecheck;
#   6. curl in reviews and ratings fetches over HTTP (another container) and HTTPS (a local TLS
#      server, with its CA given, and failing verification without it, which proves the CA
#      bundle is read); bash in ratings runs a script;
#   7. on a read-only root filesystem each container turns healthy through its own binary,
#      also when started on another port; a ratings that fails /health turns unhealthy;
#   8. the service runs as UID 1000; `docker stop` (SIGTERM) ends it with exit code 0 within
#      5 seconds.
#
# Builds the images first (docker/images.sh) unless BOOKINFO_IMAGES_BUILT=1. Skips (exit 0,
# loudly) only when no Docker engine is reachable. Cleans up on any exit.
#
#   bash docker/test-images.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/checks.sh
source docker/checks.sh

skip_without_docker "the image test"
command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"

if [[ "${BOOKINFO_IMAGES_BUILT:-}" != 1 ]]; then
    bash docker/images.sh
fi

RUN_ID="bookinfo-imagetest-$$"
NET="$RUN_ID"
work=$(mktemp -d)
tls_pid=
cleanup() {
    local ids
    mapfile -t ids < <(docker ps -aq --filter "label=$RUN_ID")
    ((${#ids[@]} == 0)) || docker rm -f "${ids[@]}" >/dev/null 2>&1 || true
    docker network rm "$NET" >/dev/null 2>&1 || true
    [[ -z "$tls_pid" ]] || kill "$tls_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
docker network create --label "$RUN_ID" "$NET" >/dev/null

declare -A LIMIT_MB=([productpage]=25 [details]=25 [tracecheck]=25 [reviews]=40 [ratings]=40)
declare -A PORTS=([productpage]=9080/tcp [details]=9080/tcp [reviews]=9080/tcp [ratings]=9080/tcp
    [tracecheck]="16686/tcp 4318/tcp")
declare -A HEALTH_PATH=([tracecheck]=/healthz)

# --- 1-4: size, contents, configuration, SBOM ---------------------------------------------
# allowed IMAGE PATH-LINE: whether one line of docker/image-files.py output is something the
# image promises.
allowed() {
    local target="$1" line="$2" bin="${BINARY_OF[$1]}"
    case "$line" in
    */) return 0 ;; # directories
    "/etc/passwd "* | "/etc/group "* | "/etc/nsswitch.conf "*) return 0 ;;
    "/etc/ssl/certs/ca-certificates.crt "*) return 0 ;;
    "/usr/local/bin/$bin "* | "/usr/share/sbom/$bin.cdx.json "*) return 0 ;;
    "/lib -> usr/lib" | "/lib64 -> usr/lib64") return 0 ;;
    /usr/lib/*-linux-gnu/lib*.so* | /usr/lib64/ld-linux*.so* | /usr/lib/ld-linux*.so*) return 0 ;;
    esac
    if [[ "$target" == reviews || "$target" == ratings ]]; then
        [[ "$line" == "/usr/bin/curl "* ]] && return 0
    fi
    if [[ "$target" == ratings ]]; then
        [[ "$line" == "/usr/bin/bash "* || "$line" == "/bin -> usr/bin" ]] && return 0
    fi
    return 1
}

sbom_ok() { # sbom_ok FILE BINARY: docker/sbom.py's verdict, indented under the check
    local out rc=0
    out=$(python3 docker/sbom.py check "$1" "$2" 2>&1) || rc=$?
    printf '       %s\n' "${out//$'\n'/$'\n'       }"
    return "$rc"
}

say "contents and configuration"
for t in "${TARGETS[@]}"; do
    image=$(image_of "$t")
    bin="${BINARY_OF[$t]}"
    docker image inspect "$image" >/dev/null 2>&1 || die "$image is missing (bash docker/images.sh)"
    size=$(docker image inspect -f '{{.Size}}' "$image")
    mb=$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')
    check "$t: $mb MB <= ${LIMIT_MB[$t]} MB" [ "$size" -le $((LIMIT_MB[$t] * 1000 * 1000)) ]

    python3 docker/image-files.py "$image" >"$work/$t.files" || die "cannot list $image"
    unexpected=$(while IFS= read -r line; do
        allowed "$t" "$line" || echo "$line"
    done <"$work/$t.files")
    check "$t: nothing but what it promises$([[ -z "$unexpected" ]] || printf ' (also: %s)' "$(tr '\n' ' ' <<<"$unexpected")")" \
        [ -z "$unexpected" ]
    check "$t: no /bin/sh, no /usr/bin/sh" bash -c "! grep -qE '^(/usr)?/bin/sh( |\$| ->)' '$work/$t.files'"
    check "$t: no package manager (apt, dpkg)" \
        bash -c "! grep -qE '/(apt|apt-get|dpkg)( |\$| ->)|^/var/lib/dpkg' '$work/$t.files'"
    case "$t" in
    reviews) check "$t: has curl, no bash" bash -c "grep -q '^/usr/bin/curl ' '$work/$t.files' && ! grep -q '/bash ' '$work/$t.files'" ;;
    ratings) check "$t: has curl and bash" bash -c "grep -q '^/usr/bin/curl ' '$work/$t.files' && grep -q '^/usr/bin/bash ' '$work/$t.files'" ;;
    *) check "$t: no curl, no bash" bash -c "! grep -qE '/(curl|bash) ' '$work/$t.files'" ;;
    esac
    passwd=$(python3 docker/image-files.py "$image" --cat /etc/passwd)
    group=$(python3 docker/image-files.py "$image" --cat /etc/group)
    check "$t: /etc/passwd and /etc/group hold UID/GID 1000 only" \
        [ "$(cut -d: -f3 <<<"$passwd")/$(cut -d: -f3 <<<"$group")" = "1000/1000" ]

    check "$t: runs as user 1000:1000" [ "$(docker image inspect -f '{{.Config.User}}' "$image")" = 1000:1000 ]
    exposed=$(docker image inspect -f '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}' "$image")
    for port in ${PORTS[$t]}; do
        check "$t: EXPOSE $port" grep -qw "$port" <<<"$exposed"
    done
    labels=$(docker image inspect -f '{{json .Config.Labels}}' "$image")
    missing=$(python3 -c '
import json, sys
labels = json.loads(sys.argv[1]) or {}
want = ["org.opencontainers.image." + k for k in
        ("source", "url", "version", "licenses", "title", "description", "vendor")]
print(" ".join(k for k in want if not labels.get(k)))' "$labels")
    check "$t: OCI labels$([[ -z "$missing" ]] || echo " (missing: $missing)")" [ -z "$missing" ]
    health=$(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$image")
    check "$t: HEALTHCHECK runs $bin --health-check" \
        [ "$health" = "[\"CMD\",\"/usr/local/bin/$bin\",\"--health-check\"]" ]

    sbom_path=$(docker image inspect -f '{{index .Config.Labels "io.github.bookinfo-rs.sbom"}}' "$image")
    check "$t: label io.github.bookinfo-rs.sbom = /usr/share/sbom/$bin.cdx.json" \
        [ "$sbom_path" = "/usr/share/sbom/$bin.cdx.json" ]
    if python3 docker/image-files.py "$image" --cat "$sbom_path" >"$work/$t.cdx.json" 2>/dev/null; then
        check "$t: SBOM lists exactly the crates compiled into $bin" sbom_ok "$work/$t.cdx.json" "$bin"
    else
        check "$t: SBOM present at $sbom_path" false
    fi
done

# --- 5, 6: no shell; curl and bash where promised -------------------------------------------
say "programs"
no_shell() { [[ "$rc" -ne 0 ]] && grep -q 'no such file' <<<"$out"; }
for t in productpage details tracecheck; do
    out=$(docker run --rm --label "$RUN_ID" --entrypoint /bin/sh "$(image_of "$t")" -c true 2>&1) && rc=0 || rc=$?
    check "$t: no shell to start (docker run --entrypoint /bin/sh: exit $rc)" no_shell
done

# An HTTP server for curl: details, on the test network.
docker run -d --label "$RUN_ID" --network "$NET" --network-alias details --read-only \
    "$(image_of details)" >/dev/null
# An HTTPS server for curl: openssl s_server with a throwaway CA-less certificate on the host.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1 ||
    die "openssl req"
tls_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl s_server -accept "127.0.0.1:$tls_port" -cert "$work/cert.pem" -key "$work/key.pem" \
    -www -quiet >/dev/null 2>&1 &
tls_pid=$!
curl_in() { # curl_in IMAGE-TARGET NETWORK ARGS...: run the image's curl, print its exit code
    local t="$1" net="$2"
    shift 2
    docker run --rm --label "$RUN_ID" --network "$net" --read-only \
        -v "$work/cert.pem:/tmp/ca.pem:ro" --entrypoint curl "$(image_of "$t")" "$@" \
        >/dev/null 2>&1 && echo 0 || echo $?
}
for _ in $(seq 50); do
    curl -fsS -o /dev/null --cacert "$work/cert.pem" "https://localhost:$tls_port/" 2>/dev/null && break
    sleep 0.1
done
for _ in $(seq 50); do
    [[ $(curl_in reviews "$NET" -fsS http://details:9080/health) == 0 ]] && break
    sleep 0.2
done
for t in reviews ratings; do
    rc=$(curl_in "$t" "$NET" -fsS http://details:9080/details/0)
    check "$t: curl http://details:9080/details/0 (exit $rc)" [ "$rc" = 0 ]
    rc=$(curl_in "$t" host -fsS --cacert /tmp/ca.pem "https://localhost:$tls_port/")
    check "$t: curl https:// with the server's CA (exit $rc)" [ "$rc" = 0 ]
    rc=$(curl_in "$t" host -sS "https://localhost:$tls_port/")
    # 60: the certificate is not signed by a CA in the bundle; 77 would be a missing bundle.
    check "$t: curl https:// without the CA fails verification against the image's CA bundle (exit $rc)" [ "$rc" = 60 ]
done
out=$(docker run --rm --label "$RUN_ID" --network "$NET" --read-only --entrypoint bash "$(image_of ratings)" \
    -c 'body=$(curl -fsS http://details:9080/details/0) && [[ $body == *ISBN-10* ]] && echo "bash ${BASH_VERSION%%(*}"' 2>&1) || true
check "ratings: bash runs a script that uses curl ($out)" grep -q '^bash 5' <<<"$out"
out=$(docker run --rm --label "$RUN_ID" --read-only --entrypoint /bin/bash "$(image_of ratings)" \
    -c 'echo x >/probe' 2>&1) && rc=0 || rc=$?
check "ratings: /bin/bash exists, and / is read-only to it" grep -q 'Read-only file system' <<<"$out"

# --- 7, 8: health, user, SIGTERM ------------------------------------------------------------
say "containers: healthcheck, user, SIGTERM"
declare -A CID=()
start() { # start NAME IMAGE-TARGET [docker run args...] -- [container args...]
    local name="$1" t="$2"
    shift 2
    local opts=() args=()
    while (($#)) && [[ "$1" != -- ]]; do opts+=("$1"); shift; done
    (($#)) && shift
    args=("$@")
    CID[$name]=$(docker run -d --label "$RUN_ID" --network "$NET" --read-only \
        --tmpfs /tmp:size=16m --health-interval 1s --health-start-period 0s \
        "${opts[@]}" "$(image_of "$t")" "${args[@]}")
}
for t in "${TARGETS[@]}"; do start "$t" "$t" --; done
start details-9090 details -- 9090
start ratings-unhealthy ratings -e SERVICE_VERSION=v-unhealthy -e RATINGS_FAULT_PERIOD_SECONDS=6 --
status() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1"; }
wait_for() { # wait_for CONTAINER STATUS SECONDS
    local end=$((SECONDS + $3))
    while ((SECONDS < end)); do
        [[ "$(status "$1")" == "$2" ]] && return 0
        sleep 0.5
    done
    return 1
}
for name in "${TARGETS[@]}" details-9090; do
    t=${name%%-*}
    port=9080
    [[ $name == details-9090 ]] && port=9090
    [[ $t == tracecheck ]] && port=16686
    check "$name: healthy through its binary on a read-only root filesystem" wait_for "${CID[$name]}" healthy 30
    log=$(docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "${CID[$name]}")
    check "$name: the check asked port $port${HEALTH_PATH[$t]:-/health}" \
        grep -qF "healthy (200 from http://127.0.0.1:$port${HEALTH_PATH[$t]:-/health})" <<<"$log"
done
check "ratings v-unhealthy: turns unhealthy when /health fails" wait_for "${CID[ratings-unhealthy]}" unhealthy 30
for name in "${TARGETS[@]}"; do
    pid=$(docker inspect -f '{{.State.Pid}}' "${CID[$name]}")
    uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "?")
    check "$name: the service process runs as UID 1000 (got $uid)" [ "$uid" = 1000 ]
done
for name in "${!CID[@]}"; do
    t0=$(date +%s%N)
    docker stop -t 10 "${CID[$name]}" >/dev/null
    ms=$((($(date +%s%N) - t0) / 1000000))
    code=$(docker inspect -f '{{.State.ExitCode}}' "${CID[$name]}")
    check "$name: SIGTERM ends it with exit 0 (exit $code) within 5 s (${ms} ms)" \
        [ "$code" = 0 -a "$ms" -lt 5000 ]
done

echo
if ((failed)); then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "images: $passed passed, $failed failed"
((failed == 0))
