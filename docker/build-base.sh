#!/usr/bin/env bash
# Make a local stand-in for `debian:bookworm-slim` without pulling anything: a minimal Debian 12
# root filesystem made with debootstrap from the Debian mirror apt already uses on this machine,
# with documentation and package lists removed, loaded with `docker import` as
# `bookinfo-debian:bookworm-slim`.
#
# CI builds the Dockerfile with `--build-arg DEBIAN_IMAGE=bookinfo-debian:bookworm-slim`, so the
# Dockerfile's own `rootfs` stage (apt-get install curl, then docker/rootfs.sh copies out the C
# library, curl, bash and their libraries) runs for real on it, exactly as it does on the
# official image for users. The host's release binaries link against glibc 2.36; this root
# filesystem is the same Debian release, so the glibc copied into the images is the one they
# were linked against.
#
# Idempotent: does nothing when the image exists; the root filesystem tarball is cached under
# $BOOKINFO_CACHE (default /var/cache/bookinfo, outside the repository) so a removed image is
# re-imported in seconds. Needs root (debootstrap) and the `debootstrap` package.
#
#   bash docker/build-base.sh            # build if missing
#   FORCE=1 bash docker/build-base.sh    # rebuild the tarball and the image
set -euo pipefail

IMAGE="${BOOKINFO_DEBIAN_IMAGE:-bookinfo-debian:bookworm-slim}"
CACHE="${BOOKINFO_CACHE:-/var/cache/bookinfo}"
SUITE=bookworm
TARBALL="$CACHE/rootfs-$SUITE-$(dpkg --print-architecture 2>/dev/null || echo amd64).tar"
# Bump when the recipe below changes, so a stale cached tarball is not reused.
RECIPE=3

if [[ -z "${FORCE:-}" ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "build-base: $IMAGE already present"
    exit 0
fi

# The mirror apt is configured with (deb822 `URIs:` or one-line `deb` entries), so the same
# host that already serves this machine's packages is asked; deb.debian.org otherwise.
mirror() {
    local uri
    uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')
    echo "${uri:-http://deb.debian.org/debian}"
}

if [[ -n "${FORCE:-}" || ! -s "$TARBALL" || "$(cat "$TARBALL.recipe" 2>/dev/null)" != "$RECIPE" ]]; then
    command -v debootstrap >/dev/null || {
        echo "build-base: debootstrap is missing (apt-get install debootstrap)" >&2
        exit 1
    }
    mkdir -p "$CACHE"
    root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    url=$(mirror)
    echo "build-base: debootstrap $SUITE from $url (a few minutes)"
    debootstrap --variant=minbase "$SUITE" "$root" "$url" >"$CACHE/debootstrap.log" 2>&1 || {
        tail -n 30 "$CACHE/debootstrap.log" >&2
        exit 1
    }
    # The same apt sources the official image carries (release, updates, security).
    rm -f "$root/etc/apt/sources.list"
    mkdir -p "$root/etc/apt/sources.list.d"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $url
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${url%/debian*}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
        "$root"/var/log/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
        "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/usr/share/lintian \
        "$root"/var/lib/dpkg/*-old "$root"/debootstrap "$root"/tmp/* "$root"/root/.bash_history
    # Like the official slim image: packages installed later leave out docs and translations.
    mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/lintian/*' \
        >"$root/etc/dpkg/dpkg.cfg.d/slim"
    # The engine mounts its own resolv.conf and hostname over these; ship neutral copies.
    : >"$root/etc/resolv.conf"
    echo "localhost" >"$root/etc/hostname"
    tar --numeric-owner -C "$root" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    echo "$RECIPE" >"$TARBALL.recipe"
    rm -rf "$root"
    trap - EXIT
fi

echo "build-base: importing $TARBALL as $IMAGE"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "minimal Debian $SUITE (debootstrap minbase), a local stand-in for debian:$SUITE-slim" \
    "$TARBALL" "$IMAGE" >/dev/null
docker image ls "$IMAGE"
