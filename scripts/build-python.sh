#!/usr/bin/env bash
# CPython for `make test-matrix`, built from Debian's source package of that minor version:
#   build-python.sh VERSION      with the GIL         (e.g. 3.14 -> python3.14)
#   build-python.sh VERSION t    free-threaded build  (configure --disable-gil -> python3.14t)
# Prints the interpreter's path on stdout, everything else on stderr. No suite of Debian ships
# a free-threaded build, and uv's own interpreter downloads cannot reach their host here.
#
# The build goes to a cache outside the clone, keyed by version and tarball checksum:
#   ${LLMCACHE_PYTHON_CACHE:-${XDG_CACHE_HOME:-~/.cache}/llmcache/pythons}
#     /<version><t>-<first 12 of the tarball's sha256>/install
# so that only a machine's first run pays (CI runs in a fresh clone on the same machine). It is
# skipped when that interpreter exists and works. A build runs in a temporary directory and is
# renamed into place when it works, so an interrupted one is never taken as done; a lock per
# interpreter keeps two runs from building the same one. The GIL and the free-threaded build of
# one version share the downloaded tarball (src/ in the cache).
#
# The apt state is private to the cache, so the machine's sources are never touched; the mirror
# is read from the machine's own apt sources at run time. Each .orig.tar.xz is checked against
# the sha256 in its .dsc and against the sha256 pinned below: a changed tarball fails loudly.
set -euo pipefail

usage() {
  echo "usage: $0 VERSION [t]   (VERSION: 3.13, 3.14 or 3.15)" >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
version=$1
t=${2:-}
[ -z "$t" ] || [ "$t" = t ] || usage

# Debian source package=version, the suite that carries it, and its .orig.tar.xz's sha256.
# 3.13: seen and built here 2026-12. 3.14 and 3.15: the sha256 from Debian's signed source index
# (the same line as in their .dsc); on 2026-12-07 the mirror answered 404 for every python3.14
# and python3.15 file that index lists (3.14.8-1 to 3.14.10-1, 3.15.0-1, 3.15.2-1).
case $version in
  3.13) source=python3.13=3.13.5-2+deb13u5 suite=trixie
        sha256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640 ;;
  3.14) source=python3.14=3.14.10-1 suite=sid
        sha256=de414a57119abef52784d8993e341d53aed635fc2b05c2607d9f98a2c5b72032 ;;
  3.15) source=python3.15=3.15.2-1 suite=sid
        sha256=8b5536d280142ecf6cdfe15d12a21ba1c65e300bbf7b28a8d0cdb849575797de ;;
  *) usage ;;
esac
pkg=${source%%=*}
debver=${source#*=}
tarball=${pkg}_${debver%%-*}.orig.tar.xz
name=$version$t
ROOT=${LLMCACHE_PYTHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcache/pythons}
PREFIX=$ROOT/$name-${sha256:0:12}/install
PY=$PREFIX/bin/python$name
SRC=$ROOT/src/$tarball

say() { echo "build-python $name: $*" >&2; }
die() { say "$*"; exit 1; }

# Runs, is this minor version, is (or is not) free-threaded as asked, and has the modules the
# test venvs need.
CHECK='
import sys, sysconfig
import bz2, ctypes, lzma, sqlite3, ssl, zlib
assert "%d.%d" % sys.version_info[:2] == sys.argv[1], sys.version
assert bool(sysconfig.get_config_var("Py_GIL_DISABLED")) == (sys.argv[2] == "t")
'
works() { [ -x "$1" ] && "$1" -c "$CHECK" "$version" "${t:-gil}" >/dev/null 2>&1; }
sha_ok() { [ -f "$1" ] && echo "$sha256  $1" | sha256sum --check --status; }

mkdir -p "$ROOT/src"
if works "$PY"; then
  say "$PY (built before)"
  echo "$PY"
  exit 0
fi
exec 8>"$ROOT/.$name.lock"
flock 8
if works "$PY"; then  # another run built it while this one waited
  say "$PY (built by another run)"
  echo "$PY"
  exit 0
fi

fetch() {  # the .orig.tar.xz, verified, to $SRC (under a lock: the apt state is shared)
  local uri A apt tmp dsc listed in_dsc
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$uri" ]; then
    uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  fi
  [ -n "$uri" ] || die "no Debian mirror found in the machine's apt sources"
  A=$ROOT/apt
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/parts"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" \
    > "$A/sources.list"
  apt=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/parts"
       -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o "APT::Sandbox::User=root")
  say "fetching $source from Debian $suite ($uri)"
  apt-get "${apt[@]}" -qq update >&2
  listed=$(apt-cache "${apt[@]}" showsrc --only-source "$pkg" 2>/dev/null \
    | awk '/^Version:/ {print $2}' | sort -uV | tr '\n' ' ')
  local want=$source
  if [[ " $listed " != *" $debver "* ]]; then
    # A new Debian revision of the same upstream tarball is fine: the checksum decides.
    say "Debian $suite no longer lists $debver (it has: ${listed:-none}); taking $pkg/$suite"
    want=$pkg/$suite
  fi
  tmp=$(mktemp -d "$ROOT/src/.fetch.XXXXXX")
  if ! (cd "$tmp" && apt-get "${apt[@]}" -qq source --download-only "$want" >&2); then
    rm -rf "$tmp"
    die "the mirror did not serve $want's source (see apt's errors above)"
  fi
  dsc=$(find "$tmp" -maxdepth 1 -name '*.dsc' | head -1)
  if [ ! -f "$tmp/$tarball" ]; then
    rm -rf "$tmp"
    die "$want has no $tarball: update the pin in $0"
  fi
  in_dsc=$(awk -v f="$tarball" '/^Checksums-Sha256:/ {on = 1; next} /^[^ ]/ {on = 0}
                               on && $3 == f {print $1}' "$dsc")
  if ! echo "$in_dsc  $tmp/$tarball" | sha256sum --check --status; then
    rm -rf "$tmp"
    die "$tarball does not match the sha256 in $(basename "$dsc")"
  fi
  if [ "$in_dsc" != "$sha256" ]; then
    rm -rf "$tmp"
    die "$tarball: sha256 $in_dsc, pinned $sha256 (changed: check it, then update the pin)"
  fi
  mv "$tmp/$tarball" "$SRC"
  rm -rf "$tmp"
}

if ! sha_ok "$SRC"; then
  exec 9>"$ROOT/.fetch.lock"
  flock 9
  sha_ok "$SRC" || fetch
  exec 9>&-
fi
sha_ok "$SRC" || die "$SRC does not match the pinned sha256 $sha256"

rm -rf "$ROOT/.build-$name".*  # what an interrupted build left (this run holds the lock)
tmp=$(mktemp -d "$ROOT/.build-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
tar -xJf "$SRC" -C "$tmp/src" --strip-components=1
cd "$tmp/src"
# No ensurepip (uv makes the test venvs without pip), no test modules; no PGO/LTO (slow).
flags=(--prefix="$PREFIX" --without-ensurepip --disable-test-modules)
if [ -n "$t" ]; then
  flags+=(--disable-gil)
fi
step() {  # name, command...: its output to a log, the log's end shown if it fails
  local log=$tmp/$1.log
  shift
  "$@" >"$log" 2>&1 || { tail -40 "$log" >&2; die "$(basename "$log" .log) failed"; }
}
start=$SECONDS
say "configure ${flags[*]:1}"
step configure ./configure "${flags[@]}"
say "make -j$(nproc)"
step make make -j"$(nproc)"
say "make install"
step install make install DESTDIR="$tmp/dest"
works "$tmp/dest$PY" || die "the new build fails its check (imports, version, GIL): $CHECK"
mkdir -p "$(dirname "$PREFIX")"
rm -rf "$PREFIX"  # a build that no longer works (the check above failed on it)
mv "$tmp/dest$PREFIX" "$PREFIX"
works "$PY" || die "$PY does not work where it was installed"
say "$("$PY" -c 'import sys; print(sys.version)') in $((SECONDS - start)) s: $PY"
echo "$PY"
