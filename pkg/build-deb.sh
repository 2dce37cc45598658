#!/usr/bin/env bash
# make deb: build libnginx-mod-http-coze-auth_<version>_<arch>.deb for the
# Debian nginx on this machine, from the working tree (no git tag needed).
#
#   pkg/build-deb.sh            -> build/deb/*.deb
#   DEB_VERSION=0.1.0+local1 pkg/build-deb.sh   (default: the version in
#                               ngx_http_coze_auth_core.h)
#
# Standard Debian tooling: debhelper with the dh-sequence-nginx helper from
# nginx-dev (dh_nginx computes the nginx-abi-* dependency).  As root, the
# build dependencies (debian/control) are installed with apt-get when any
# is missing.  The sources are staged in build/deb/<pkg>-<version> so that the working
# tree and its parent directory stay clean; dpkg-buildpackage writes the
# packages next to the staged tree, i.e. into build/deb.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/deb
PKG=libnginx-mod-http-coze-auth
TOOLS="build-essential dpkg-dev debhelper"

cd "$ROOT"

version=${DEB_VERSION:-$(sed -n \
    's/^#define NGX_HTTP_COZE_AUTH_VERSION *"\(.*\)".*/\1/p' \
    ngx_http_coze_auth_module/ngx_http_coze_auth_core.h)}
[ -n "$version" ] || { echo "build-deb: no version found" >&2; exit 1; }

# stage what the package is built from (a fresh build/deb)
rm -rf "$OUT"
stage=$OUT/$PKG-$version
mkdir -p "$stage"
tar -c config ngx_http_coze_auth_module debian README*.md docs \
    | tar -x -C "$stage"

# a changelog entry for this version unless debian/changelog has it
top=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null \
      || sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
if [ "$top" != "$version" ]; then
    {
        echo "$PKG ($version) UNRELEASED; urgency=medium"
        echo
        echo "  * Build from the working tree."
        echo
        echo " -- $(sed -n 's/^Maintainer: //p' debian/control)  $(date -R)"
        echo
        cat debian/changelog
    } > "$stage/debian/changelog"
fi

# build dependencies
have_deps() {
    local p
    for p in $TOOLS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
            || return 1
    done
    (cd "$stage" && dpkg-checkbuilddeps) >/dev/null 2>&1
}

if ! have_deps; then
    if [ "$(id -u)" != 0 ]; then
        echo "build-deb: missing build dependencies; run as root, or:" >&2
        echo "  apt-get install $TOOLS && apt-get build-dep ./" >&2
        (cd "$stage" && dpkg-checkbuilddeps) || true
        exit 1
    fi
    echo "build-deb: installing build dependencies"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $TOOLS >/dev/null
    apt-get build-dep -y -qq "$stage" >/dev/null
    (cd "$stage" && dpkg-checkbuilddeps)
fi

echo "build-deb: building $PKG $version (log: $OUT/build.log)"
start=$SECONDS
if ! (cd "$stage" \
      && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
         dpkg-buildpackage -b -us -uc) >"$OUT/build.log" 2>&1; then
    tail -40 "$OUT/build.log"
    echo "build-deb: FAILED (full log: $OUT/build.log)" >&2
    exit 1
fi
rm -rf "$stage"

deb=$(ls "$OUT"/${PKG}_"${version}"_*.deb)
echo "build-deb: built in $((SECONDS - start))s: ${deb#$ROOT/}"
dpkg-deb -f "$deb" Package Version Architecture Depends | sed 's/^/  /'
