#!/usr/bin/env bash
# CPython 3.14 and 3.15 for `make test-matrix`: Debian sid's own binary packages (python3.14,
# python3.15, with the GIL; Debian builds no free-threaded ones) in a Debian sid root made by
# debootstrap. They need a newer glibc than this Debian 12 host has, so they run chrooted.
#   sid-root.sh                  make the root if needed; print its path on stdout
#   sid-root.sh run [-u UV] [-w DIR]... [--] CMD [ARG]...
#                                CMD inside the root, in /src: the current directory read-only
#                                there, each DIR (relative to it) writable, UV (a uv binary of
#                                the host) as /usr/local/bin/uv
# Everything else goes to stderr. As root (debootstrap, mount, chroot); debootstrap is installed
# with apt-get when the host lacks it.
#
# The root lives in the cache build-python.sh uses, outside the clone:
#   ${LLMCACHE_PYTHON_CACHE:-${XDG_CACHE_HOME:-~/.cache}/llmcache/pythons}/sid-root-<key>
# the key being the first 12 of the sha256 of what goes into it (RECIPE below). It is made in a
# temporary directory and renamed into place once both interpreters work in it, under a lock; a
# root that exists and works is used as it is. sid moves on: the packages installed are those
# of the day the root was made, printed on every use (remove the root to take newer ones).
#
# Mounts (/proc, /dev, a fresh /tmp, /src, the host's resolv.conf, CA bundle and uv) are made in
# a private mount namespace (unshare -m) that ends with the command: nothing is left mounted on
# the host, even when the command is killed. The mirror is the machine's own, read from its apt
# sources at run time.
set -euo pipefail

SUITE=sid
PACKAGES=(python3.14 python3.14-venv python3.15 python3.15-venv)
PYTHONS=(3.14 3.15)
RECIPE="debootstrap --variant=minbase $SUITE; apt-get install --no-install-recommends ${PACKAGES[*]}"
CACHE=${LLMCACHE_PYTHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcache/pythons}
KEY=$(printf '%s' "$RECIPE" | sha256sum | cut -c1-12)
ROOT=$CACHE/sid-root-$KEY
INFO=etc/llmcache-sid-root  # in the root: what it holds, written when it was made
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
PATH_IN=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "sid-root: $*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mount, chroot)"

# Internal: the mounts and the chroot, run by `unshare -m` (so all of them end with it).
#   _enter ROOT SRC UV [-w DIR]... -- CMD...     (SRC and UV empty: none)
if [ "${1:-}" = _enter ]; then
  root=$2 src=$3 uv=$4
  shift 4
  rw=()
  while [ "$1" = -w ]; do
    rw+=("$2")
    shift 2
  done
  shift  # --
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
  mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
  env=(PATH="$PATH_IN" HOME=/root TMPDIR=/tmp UV_CACHE_DIR=/var/cache/uv UV_LINK_MODE=copy)
  # With the clone (not while apt installs the root's own ca-certificates): the host's bundle,
  # which its own clients trust.
  ca=/etc/ssl/certs/ca-certificates.crt
  if [ -n "$src" ] && [ -f "$ca" ]; then
    mount --bind "$ca" "$root$ca"
    env+=(SSL_CERT_FILE="$ca")
  fi
  if [ -n "$uv" ]; then
    mount --bind "$uv" "$root/usr/local/bin/uv"
  fi
  dir=/
  if [ -n "$src" ]; then
    mount --bind "$src" "$root/src"
    mount -o remount,bind,ro "$root/src"
    for d in "${rw[@]}"; do
      mount --bind "$src/$d" "$root/src/$d"
    done
    dir=/src
  fi
  # The host's environment less what points into the host (a venv, pyenv, its paths).
  exec chroot "$root" /usr/bin/env -u VIRTUAL_ENV -u PYTHONHOME -u PYTHONPATH -u PYENV_VERSION \
    -u UV_PYTHON -u SSL_CERT_DIR -u PIP_FIND_LINKS -u PIP_CERT -C "$dir" "${env[@]}" "$@"
fi

enter() {  # ROOT SRC UV [-w DIR]... -- CMD...: in a mount namespace of its own
  unshare --mount --propagation private -- "$BASH" "${BASH_SOURCE[0]}" _enter "$@"
}

# Runs, is that minor version with the GIL, has what the test venvs need.
CHECK='
import sys, sysconfig
import bz2, ctypes, lzma, sqlite3, ssl, venv, zlib
assert "%d.%d" % sys.version_info[:2] == sys.argv[1], sys.version
assert not sysconfig.get_config_var("Py_GIL_DISABLED")
'
works() {  # ROOT
  local checks=() v
  [ -f "$1/$INFO" ] || return 1
  for v in "${PYTHONS[@]}"; do
    checks+=("python$v -c '$CHECK' $v")
  done
  enter "$1" "" "" -- sh -ec "$(printf '%s\n' "${checks[@]}")" >/dev/null 2>&1
}

if [ "${1:-}" = run ]; then
  shift
  uv="" rw=()
  while [ $# -gt 0 ]; do
    case $1 in
      -u) uv=$(realpath "$(command -v "$2")") || die "no uv at $2"; shift 2 ;;
      -w) mkdir -p "$2"; rw+=(-w "$2"); shift 2 ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  [ $# -gt 0 ] || die "usage: $0 run [-u UV] [-w DIR]... [--] CMD [ARG]..."
  [ -f "$ROOT/$INFO" ] || die "no sid root at $ROOT: run $0 first"
  enter "$ROOT" "$PWD" "$uv" "${rw[@]}" -- "$@"
  exit
fi
[ $# -eq 0 ] || die "usage: $0 [run [-u UV] [-w DIR]... [--] CMD [ARG]...]"

report() {  # what the root holds, on stderr; its path on stdout
  say "$(awk 'NR > 1 {printf "%s%s", sep, $0; sep = ", "}' "$ROOT/$INFO") (Debian $SUITE," \
    "$(head -1 "$ROOT/$INFO")) in $ROOT$1"
  echo "$ROOT"
}

mkdir -p "$CACHE"
if works "$ROOT"; then
  report ""
  exit 0
fi
exec 8>"$CACHE/.sid-root.lock"
flock 8
if works "$ROOT"; then
  report " (made by another run)"
  exit 0
fi

# What an interrupted run left (this run holds the lock). Its mounts ended with its namespace;
# were one still there, rm would go through it into the host: refuse instead.
for old in "$CACHE/.sid-root-$KEY".* "$ROOT"; do
  [ -e "$old" ] || continue
  if awk -v d="$old" 'index($5, d "/") == 1 || $5 == d {found = 1} END {exit !found}' \
      /proc/self/mountinfo; then
    die "$old has something mounted in it: unmount it, then run again"
  fi
  say "removing $old (unfinished or broken)"
  rm -rf "$old"
done

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq debootstrap >&2 \
    || { apt-get update -qq >&2 && apt-get install -y -qq debootstrap >&2; } \
    || die "could not install debootstrap"
fi
[ -f "$KEYRING" ] || die "no $KEYRING (Debian's archive keyring: apt-get install debian-archive-keyring)"
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
  uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$uri" ] || die "no Debian mirror found in the machine's apt sources"

tmp=$(mktemp -d "$CACHE/.sid-root-$KEY.XXXXXX")
chmod 755 "$tmp"  # the root's / (mktemp's 700 would lock out its users, _apt among them)
log=$tmp.log
trap 'rm -rf "$tmp" "$log"' EXIT
step() {  # what, command...: its output to a log, the log's end shown if it fails
  local what=$1
  shift
  say "$what"
  "$@" >"$log" 2>&1 || { tail -40 "$log" >&2; die "$what failed"; }
}
start=$SECONDS
# In a mount namespace of its own too: debootstrap mounts /proc and /sys in the root.
step "debootstrap --variant=minbase $SUITE from $uri" \
  unshare --mount --propagation private -- \
  debootstrap --variant=minbase --keyring="$KEYRING" "$SUITE" "$tmp" "$uri"
# Mount points for `run`: its uv, the clone (and below, the host's CA bundle).
mkdir -p "$tmp/src" "$tmp/etc/ssl/certs" "$tmp/usr/local/bin" "$tmp/var/cache/uv"
touch "$tmp/usr/local/bin/uv" "$tmp/etc/resolv.conf"
# The host's apt takes its mirror's index as valid past its date (a frozen snapshot of the
# archive); the root's apt must do the same with that mirror.
apt-config dump | grep -E '^Acquire::Check-(Valid-Until|Date) ' \
  >"$tmp/etc/apt/apt.conf.d/99llmcache-host" || true
step "apt-get install ${PACKAGES[*]}" enter "$tmp" "" "" -- sh -ec "
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ${PACKAGES[*]}
  apt-get clean
  rm -rf /var/lib/apt/lists/*"
# ca-certificates (python3-pip-whl's) made it; `run` mounts the host's over it
[ -e "$tmp/etc/ssl/certs/ca-certificates.crt" ] || touch "$tmp/etc/ssl/certs/ca-certificates.crt"
{
  echo "made $(date -u +%Y-%m-%d)"
  # shellcheck disable=SC2016  # dpkg-query's format, not the shell's
  enter "$tmp" "" "" -- dpkg-query -W -f '${Package} ${Version}\n' "${PACKAGES[@]}"
} >"$tmp/$INFO"
works "$tmp" || die "python${PYTHONS[*]} do not pass their check in the new root: $CHECK"
mv "$tmp" "$ROOT"
works "$ROOT" || die "$ROOT does not work where it was moved"
say "made in $((SECONDS - start)) s, $(du -sh "$ROOT" | cut -f1)"
report ""
