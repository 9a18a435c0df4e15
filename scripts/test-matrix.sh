#!/usr/bin/env bash
# The core test suite (not the lab, not the SDKs) on several CPythons, free-threaded ones (a name
# ending in t) with the GIL off. 3.12 and 3.13 come from the machine's pyenv; 3.14 and 3.15 (when
# pyenv has none) are Debian sid's own binary packages, run in a Debian sid root that
# scripts/sid-root.sh makes once per machine (they need a newer glibc than the host's); any
# other is built from Debian's source once per machine by scripts/build-python.sh. Both cache
# outside the clone and run two at a time. Each interpreter gets a venv under .lab/matrix (made
# inside the sid root for its interpreters, where the clone is mounted read-only at /src).
# LLMCACHE_MATRIX="3.12 3.13t" picks interpreters by name. Arguments NAME=PYTHON (e.g.
# 3.14t=/usr/bin/python3.14t) run exactly those instead, as the CI workflow does with
# setup-python's.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never  # uv's own interpreter downloads cannot reach their host
UV=${UV:-.venv/bin/uv}
# Not 3.14t and 3.15t: Debian ships no free-threaded binaries; scripts/build-python.sh would
# build them from Debian's source, but on 2026-12-07 the mirror answered 404 for every
# python3.14/python3.15 source file that sid's and forky's source index list (and uv's own
# interpreter downloads cannot reach their host). Free-threaded 3.13t stands in for them.
MATRIX=${LLMCACHE_MATRIX:-3.12 3.13 3.13t 3.14 3.15}
SID=(3.14 3.15)  # from scripts/sid-root.sh
BUILD_JOBS=${LLMCACHE_BUILD_JOBS:-2}
CORE_TESTS=(
  tests/test_bounds.py tests/test_build_timeout.py tests/test_clear_during_build.py
  tests/test_decorator.py tests/test_errors.py tests/test_event_loop.py
  tests/test_flights_always_finish.py tests/test_hit_path.py
  tests/test_independence_failures_cancellation.py tests/test_input_errors.py tests/test_keys.py
  tests/test_logging.py tests/test_providers_and_warm.py tests/test_reentrancy.py
  tests/test_review_defects.py
  tests/test_secrets.py tests/test_single_flight.py tests/test_stress.py
  tests/test_network_guard.py tests/test_free_threading.py
)
shopt -s nullglob
CORE_TESTS+=(tests/test_churn_*.py)  # core tests too, whatever their names
shopt -u nullglob
# llmcache itself without its SDK dependencies: the core imports none of them, and google-auth's
# cryptography needs cffi, which refuses free-threaded 3.13. Wheels only: a package without a
# wheel for an interpreter would build from source, with cargo from crates.io for the Rust ones
# (pydantic-core, uuid-utils), which these machines cannot reach.
# Lower bounds as in pyproject.toml: without them a resolver limited to wheels backtracks to
# ancient releases (langchain-core 0.0.11 on 3.13t) instead of failing.
DEPS=(pytest'>=8' pytest-asyncio'>=1.0' pytest-timeout'>=2.3' pydantic'>=2.7')
# Two files need langchain-core (a LangChain callback handler as a kwarg; the plugin's fake chat
# model) and httpx. langchain-core 1.x needs orjson (Rust) and pyyaml, which have no wheel for
# free-threaded 3.13, nor (2026-12) langsmith's zstandard for 3.15: where it does not install
# from wheels, these files are left out, with uv's reason printed. On 3.12 to 3.14 it must.
LANGCHAIN_DEPS=(langchain-core'>=1.0' httpx)
WITH_LANGCHAIN=(tests/test_keys_by_value.py tests/test_pytest_plugin.py)
LANGCHAIN_REQUIRED=(3.12 3.13 3.14)

find_pyenv() {  # the newest pyenv install of a minor version
  local found
  found=$(printf '%s\n' "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".* | sort -V | tail -1)
  [ -x "$found/bin/python$1" ] && echo "$found/bin/python$1"
}

runs=("$@")
failed=()
if [ ${#runs[@]} -eq 0 ]; then
  read -r -a names <<<"$MATRIX"
  to_build=()
  in_sid=()
  for name in "${names[@]}"; do
    if [[ $name != *t ]] && python=$(find_pyenv "$name"); then
      runs+=("$name=$python")
    elif [[ " ${SID[*]} " == *" $name "* ]]; then
      in_sid+=("$name")
    else
      to_build+=("$name")
    fi
  done
  # Builds two at a time (configure and install use one core, make both), each one's output
  # kept apart and printed in order; a built interpreter is found in a moment.
  if [ ${#to_build[@]} -gt 0 ]; then
    echo "test-matrix: ${to_build[*]} from scripts/build-python.sh (a first build takes minutes)"
  fi
  if [ ${#in_sid[@]} -gt 0 ]; then
    echo "test-matrix: ${in_sid[*]}: Debian sid's packages in scripts/sid-root.sh's root"
    to_build+=(sid)  # made alongside the builds (under a minute)
  fi
  logs=$(mktemp -d)
  trap 'rm -rf "$logs"' EXIT
  running=0
  for name in "${to_build[@]}"; do
    if [ "$running" -ge "$BUILD_JOBS" ]; then
      wait -n || true
      running=$((running - 1))
    fi
    args=(scripts/build-python.sh "${name%t}")
    if [ "$name" = sid ]; then
      args=(scripts/sid-root.sh)
    elif [[ $name == *t ]]; then
      args+=(t)
    fi
    (
      rc=0
      bash "${args[@]}" >"$logs/$name.path" 2>"$logs/$name.log" || rc=$?
      echo "$rc" >"$logs/$name.rc"
    ) &
    running=$((running + 1))
  done
  wait
  for name in "${to_build[@]}"; do
    cat "$logs/$name.log" >&2
    if [ "$name" = sid ]; then
      for v in "${in_sid[@]}"; do
        if [ "$(cat "$logs/$name.rc")" = 0 ]; then
          runs+=("$v=sid:/usr/bin/python$v")
        else
          echo "test-matrix: $v: no interpreter (scripts/sid-root.sh failed)" >&2
          failed+=("$v")
        fi
      done
    elif [ "$(cat "$logs/$name.rc")" = 0 ]; then
      runs+=("$name=$(tail -1 "$logs/$name.path")")
    else
      echo "test-matrix: $name: no interpreter (scripts/build-python.sh failed)" >&2
      failed+=("$name")
    fi
  done
fi

passed=()
notes=()
for run in "${runs[@]}"; do
  name=${run%%=*}
  python=${run#*=}
  origin=$python
  venv=.lab/matrix/py$name
  stamp=$venv/.installed
  # inside: how a command runs beside that interpreter: here, or (sid:PATH) in the sid root, with
  # the host's uv and the clone read-only in /src, .lab/matrix writable
  inside=()
  uv=$UV
  if [[ $python == sid:* ]]; then
    python=${python#sid:}
    inside=(bash scripts/sid-root.sh run -u "$UV" -w .lab/matrix --)
    uv=/usr/local/bin/uv
  fi
  # A venv is made again for a new pyproject.toml, another interpreter, or a broken one.
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$(head -1 "$stamp")" != "$origin" ] \
      || ! "${inside[@]}" "$venv/bin/python" -c '' 2>/dev/null; then
    echo "test-matrix: $name: venv from $origin"
    rm -rf "$venv"
    install=("${inside[@]}" "$uv" pip install --quiet --python "$venv/bin/python")
    if ! "${inside[@]}" "$uv" venv --quiet --python "$python" "$venv" \
        || ! "${install[@]}" --no-deps -e . \
        || ! "${install[@]}" --compile-bytecode --only-binary :all: "${DEPS[@]}"; then
      echo "test-matrix: $name: could not install ${DEPS[*]} from wheels" >&2
      failed+=("$name")
      continue
    fi
    without=""
    if ! out=$("${install[@]}" --compile-bytecode --only-binary :all: "${LANGCHAIN_DEPS[@]}" 2>&1)
    then
      if [[ " ${LANGCHAIN_REQUIRED[*]} " == *" $name "* ]]; then
        echo "$out" >&2
        echo "test-matrix: $name: could not install langchain-core" >&2
        failed+=("$name")
        continue
      fi
      # uv's reason on one line: its hint names the first package without a wheel here
      reason=$(sed -n 's/^hint: Wheels are required for .\([A-Za-z0-9._-]*\).*/\1/p' <<<"$out" \
        | head -1)
      reason=${reason:+$reason has no wheel for $name}
      without="${LANGCHAIN_DEPS[*]} do not install from wheels: ${reason:-$(head -1 <<<"$out")}"
    fi
    printf '%s\n%s\n' "$origin" "$without" >"$stamp"
  fi
  without=$(sed -n 2p "$stamp")
  tests=("${CORE_TESTS[@]}")
  if [ -n "$without" ]; then
    notes+=("$name ran without ${WITH_LANGCHAIN[*]} ($without)")
    echo "test-matrix: $name: without ${WITH_LANGCHAIN[*]}: $without"
  else
    tests+=("${WITH_LANGCHAIN[@]}")
  fi
  env=()
  if [[ $name == *t ]]; then
    env=(PYTHON_GIL=0 LLMCACHE_EXPECT_FREE_THREADING=1)
    echo "test-matrix: $name: core suite, ${env[*]}"
  else
    echo "test-matrix: $name: core suite"
  fi
  if "${inside[@]}" env "${env[@]}" "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs \
      "${tests[@]}"; then
    passed+=("$name")
  else
    failed+=("$name")
  fi
done
for note in "${notes[@]}"; do
  echo "test-matrix: $note"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-matrix: failed on ${failed[*]}; passed on ${passed[*]:-none}" >&2
  exit 1
fi
echo "test-matrix: passed on ${passed[*]}"
