#!/bin/bash
# The file trees the minimal images are made of, collected in a Debian build stage of the
# Dockerfile (the `rootfs` stage), the way distroless images are made: each program with exactly
# the shared libraries it loads (as `ldd` reports them), nothing from the package manager.
#
#   rootfs.sh OUT BINARY...
#
#   OUT/base   the C library and friends that the BINARYs load, the CA certificates (details
#              calls Google Books over TLS; any service may export spans to an https
#              collector), /etc/passwd and /etc/group with UID/GID 1000 only, and an
#              /etc/nsswitch.conf (names from /etc/hosts, then DNS)
#   OUT/curl   /usr/bin/curl and the libraries it loads that base lacks
#   OUT/bash   /usr/bin/bash (also as /bin/bash) and the libraries it loads that base and
#              curl lack
#
# Every image gets base; reviews adds curl; ratings adds curl and bash. No tree has a shell but
# bash, so productpage and details have none. Paths keep Debian's merged-/usr layout (/lib is
# usr/lib): a top-level link is recreated only where a copied path goes through it, such as the
# dynamic loader's /lib64 on amd64. Modification times are set to the epoch, so an unchanged
# tree gives an unchanged image layer.
set -euo pipefail

out="${1:?usage: rootfs.sh OUT BINARY...}"
shift
(($# > 0)) || {
    echo "rootfs.sh: no binaries given" >&2
    exit 1
}

# copy TREE PATH: PATH's content (symlinks followed) at the same path under TREE, unless a
# tree it builds on already has it.
copy() {
    local tree="$1" path="$2" top dir below
    dir=$(readlink -f "$(dirname "$path")")
    for below in "${lower[@]}"; do
        [[ -e "$below$dir/$(basename "$path")" ]] && return 0
    done
    # A merged-/usr top-level link (/lib -> usr/lib) the path goes through.
    top="/$(cut -d/ -f2 <<<"$path")"
    if [[ -L "$top" && ! -e "$tree$top" && ! -L "$tree$top" ]]; then
        ln -s "$(readlink "$top")" "$tree$top"
    fi
    mkdir -p "$tree$dir"
    cp -L --preserve=mode "$path" "$tree$dir/$(basename "$path")"
}

# libraries PROGRAM: the shared libraries PROGRAM loads, one path a line; fails on any that
# cannot be found.
libraries() {
    ldd "$1" | awk -v prog="$1" '
        $2 == "=>" && $3 == "not" { print prog ": " $1 " not found" > "/dev/stderr"; bad = 1; next }
        $2 == "=>" && $3 ~ /^\// { print $3; next }
        $1 ~ /^\// { print $1 }
        END { exit bad }'
}

# add TREE PROGRAM...: each PROGRAM and its libraries into TREE.
add() {
    local tree="$1" program lib
    shift
    for program in "$@"; do
        copy "$tree" "$program"
        while read -r lib; do
            copy "$tree" "$lib"
        done < <(libraries "$program")
    done
}

rm -rf "$out"
mkdir -p "$out/base/etc/ssl/certs" "$out/curl" "$out/bash"

# base: the services' libraries (not the binaries themselves: each image adds its own).
lower=()
for binary in "$@"; do
    while read -r lib; do
        copy "$out/base" "$lib"
    done < <(libraries "$binary")
done
cp /etc/ssl/certs/ca-certificates.crt "$out/base/etc/ssl/certs/ca-certificates.crt"
echo 'bookinfo:x:1000:1000:BookInfo:/nonexistent:/usr/sbin/nologin' >"$out/base/etc/passwd"
echo 'bookinfo:x:1000:' >"$out/base/etc/group"
printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$out/base/etc/nsswitch.conf"

lower=("$out/base")
add "$out/curl" /usr/bin/curl

lower=("$out/base" "$out/curl")
add "$out/bash" /usr/bin/bash
[[ -e "$out/bash/bin" || -L "$out/bash/bin" ]] || ln -s usr/bin "$out/bash/bin"

find "$out" -exec touch -h -d @0 {} +
for tree in base curl bash; do
    printf 'rootfs: %-5s %5s  %s\n' "$tree" "$(du -sh "$out/$tree" | cut -f1)" \
        "$(cd "$out/$tree" && find . ! -type d | sed 's|^\.||' | sort | tr '\n' ' ')"
done
