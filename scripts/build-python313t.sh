#!/usr/bin/env bash
# Free-threaded CPython 3.13t for `make test-matrix`, built from Debian trixie's python3.13
# source package (no suite of Debian ships a free-threaded build; uv's own downloads cannot
# reach their host here). The apt state is private to .lab/, so the machine's sources are
# never touched; the mirror is the machine's own. Skipped when the interpreter already exists.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${LLMCACHE_PY313T_DIR:-$PWD/.lab/python3.13t}
PREFIX=$DIR/install
PY=$PREFIX/bin/python3.13t
if [ -x "$PY" ]; then
  echo "3.13t: $PY (already built)"
  exit 0
fi
SHA256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640
TARBALL=python3.13_3.13.5.orig.tar.xz
A=$DIR/apt
mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/parts" "$DIR/src"
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
  uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$uri" ]; then
  echo "3.13t: no Debian mirror found in the machine's apt sources" >&2
  exit 1
fi
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" > "$A/sources.list"
APT=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/parts"
     -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o "APT::Sandbox::User=root")
cd "$DIR/src"
if ! echo "$SHA256  $TARBALL" | sha256sum --check --status 2>/dev/null; then
  echo "3.13t: fetching Debian trixie's python3.13 source"
  apt-get "${APT[@]}" -qq update
  apt-get "${APT[@]}" -qq source --download-only --tar-only python3.13/trixie
fi
echo "$SHA256  $TARBALL" | sha256sum --check --quiet
rm -rf build && mkdir build
tar -xJf "$TARBALL" -C build --strip-components=1
cd build
echo "3.13t: configure (--disable-gil)"
./configure -q --prefix="$PREFIX" --disable-gil --with-ensurepip=install > ../configure.log 2>&1 \
  || { tail -30 ../configure.log >&2; exit 1; }
echo "3.13t: make (about 2.5 min on 2 cores)"
make -j"$(nproc)" -s > ../make.log 2>&1 || { tail -30 ../make.log >&2; exit 1; }
make -s install > ../install.log 2>&1 || { tail -30 ../install.log >&2; exit 1; }
cd .. && rm -rf build
"$PY" -c 'import sys; assert not sys._is_gil_enabled(), "GIL is on"; print("3.13t:", sys.version)'
