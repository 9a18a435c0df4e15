#!/usr/bin/env bash
# The core test suite (not the lab, not the SDKs) on CPython 3.12, 3.13 and free-threaded
# 3.13t with the GIL off. 3.12 and 3.13 come from the machine's pyenv, 3.13t is built from
# source once (scripts/build-python313t.sh). Each gets a venv under .lab/matrix.
# Arguments NAME=PYTHON (e.g. 3.13t=/usr/bin/python3.13t) run only those interpreters instead,
# as the CI workflow does with setup-python's.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never  # uv's own interpreter downloads cannot reach their host
UV=${UV:-.venv/bin/uv}
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
# llmcache itself without its SDK dependencies: the core imports none of them, and google-auth's
# cryptography needs cffi, which refuses free-threaded 3.13 (it supports 3.14t and later).
DEPS=(pytest pytest-asyncio pytest-timeout pydantic)
# On 3.13t, packages without a cp313t wheel would build with cargo from crates.io, which these
# machines cannot reach. langchain-core (a LangChain callback handler as a kwarg; the plugin's
# fake chat model) needs uuid-utils, one of them: those two files run on 3.12 and 3.13 only.
WITH_LANGCHAIN=(tests/test_keys_by_value.py tests/test_pytest_plugin.py)

find_pyenv() {  # the newest pyenv install of a minor version
  local found
  found=$(printf '%s\n' "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".* | sort -V | tail -1)
  if [ ! -x "$found/bin/python$1" ]; then
    echo "test-matrix: no CPython $1 under ${PYENV_ROOT:-$HOME/.pyenv}/versions" >&2
    return 1
  fi
  echo "$found/bin/python$1"
}

runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
  bash scripts/build-python313t.sh
  runs=("3.12=$(find_pyenv 3.12)" "3.13=$(find_pyenv 3.13)"
        "3.13t=${LLMCACHE_PY313T_DIR:-$PWD/.lab/python3.13t}/install/bin/python3.13t")
fi
failed=()
passed=()
for run in "${runs[@]}"; do
  name=${run%%=*}
  python=${run#*=}
  venv=.lab/matrix/py$name
  stamp=$venv/.installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "test-matrix: $name: venv from $python"
    rm -rf "$venv"
    "$UV" venv --quiet --python "$python" "$venv"
    "$UV" pip install --quiet --python "$venv/bin/python" --no-deps -e .
    if [ "$name" = 3.13t ]; then  # wheels only: newer pydantic-core has no cp313t wheel
      "$UV" pip install --quiet --python "$venv/bin/python" --only-binary :all: "${DEPS[@]}"
    else
      "$UV" pip install --quiet --python "$venv/bin/python" "${DEPS[@]}" langchain-core
    fi
    touch "$stamp"
  fi
  echo "test-matrix: $name: core suite"
  if [ "$name" = 3.13t ]; then
    env=(PYTHON_GIL=0 LLMCACHE_EXPECT_FREE_THREADING=1)
    tests=("${CORE_TESTS[@]}")
    echo "test-matrix: 3.13t: without ${WITH_LANGCHAIN[*]} (no langchain-core there)"
  else
    env=()
    tests=("${CORE_TESTS[@]}" "${WITH_LANGCHAIN[@]}")
  fi
  if ! env "${env[@]}" "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs "${tests[@]}"; then
    failed+=("$name")
  else
    passed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-matrix: failed on ${failed[*]}" >&2
  exit 1
fi
echo "test-matrix: passed on ${passed[*]} (3.13t with the GIL off)"
