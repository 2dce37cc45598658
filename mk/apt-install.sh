#!/bin/sh
# Installs those of the given Debian packages that are missing (as root,
# after apt-get update); a no-op when all are there.
#
#   mk/apt-install.sh [--no-services] package...
#
# --no-services puts a temporary policy-rc.d in place for the install, so
# that maintainer scripts start no daemon (apache2 on port 80, redis-server)
# on a host that has no policy-rc.d of its own.

nosvc=
if [ "$1" = --no-services ]; then
    nosvc=1
    shift
fi

missing=
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done

[ -n "$missing" ] || exit 0

if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$missing (run as root)" >&2
    exit 1
fi

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive

rc=/usr/sbin/policy-rc.d
tmp=
if [ -n "$nosvc" ] && [ ! -e $rc ]; then
    printf '#!/bin/sh\nexit 101\n' > $rc && chmod 755 $rc && tmp=1
fi

apt-get update -qq && apt-get install -y -qq $missing >/dev/null
st=$?
[ -z "$tmp" ] || rm -f $rc
exit $st
