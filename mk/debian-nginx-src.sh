#!/usr/bin/env bash
# Fetches and unpacks Debian's nginx source package ("apt-get source nginx")
# into DIR, using a private apt configuration under DIR/apt: the machine's
# Debian archives (deb822 /etc/apt/sources.list.d/debian.sources or the
# "deb" lines of /etc/apt/sources.list) as "deb-src" entries, with their own
# lists directory.  Nothing under /etc/apt is touched and no root is needed
# beyond what apt-get itself wants.  Idempotent: an unpacked tree is reused.
#
#   mk/debian-nginx-src.sh DIR      prints the path of the unpacked tree
set -euo pipefail

dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

tree=$(find "$dir" -mindepth 1 -maxdepth 1 -type d -name 'nginx-[0-9]*' \
       | sort | tail -1)
if [ -n "$tree" ] && [ -f "$tree/debian/rules" ] && [ -x "$tree/configure" ]
then
    echo "$tree"
    exit 0
fi

command -v apt-get >/dev/null || { echo "$0: apt-get not found" >&2; exit 1; }
command -v dpkg-source >/dev/null \
    || { echo "$0: dpkg-source not found (apt-get install dpkg-dev)" >&2
         exit 1; }

apt="$dir/apt"
rm -rf "$apt"
mkdir -p "$apt/sources.list.d" "$apt/lists/partial" \
         "$apt/cache/archives/partial"
: > "$apt/sources.list"

if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
        > "$apt/sources.list.d/debian-src.sources"
fi
if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^[[:space:]]*deb[[:space:]]\+/deb-src /p' /etc/apt/sources.list \
        | sort -u > "$apt/sources.list"
fi
if [ ! -s "$apt/sources.list" ] \
   && [ ! -s "$apt/sources.list.d/debian-src.sources" ]
then
    echo "$0: no Debian archive found in /etc/apt" >&2
    exit 1
fi

opts=(-q -o "Dir::Etc::SourceList=$apt/sources.list"
      -o "Dir::Etc::SourceParts=$apt/sources.list.d"
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
      -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")

echo "fetching Debian's nginx source (private apt lists in $apt)" >&2
apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 \
    || { cat "$apt/update.log" >&2; exit 1; }

# the newest version first; a mirror that lacks it (e.g. a security
# update not yet mirrored) falls back to the release's own version
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
cd "$dir"
ok=
for want in nginx ${codename:+nginx/$codename} \
            ${codename:+nginx/$codename-updates}
do
    if apt-get "${opts[@]}" source "$want" >"$apt/source.log" 2>&1; then
        ok=1
        break
    fi
    echo "apt-get source $want failed:" >&2
    grep -E '^(E|W):' "$apt/source.log" >&2 || true
done
[ -n "$ok" ] || exit 1

tree=$(find "$dir" -mindepth 1 -maxdepth 1 -type d -name 'nginx-[0-9]*' \
       | sort | tail -1)
[ -n "$tree" ] && [ -x "$tree/configure" ] \
    || { echo "$0: no unpacked nginx tree in $dir" >&2; exit 1; }
echo "$tree"
