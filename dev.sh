#!/usr/bin/env bash
# The two set-up commands of README.md:  ./dev.sh demo   and   ./dev.sh test [pytest args]
# Each installs everything it needs into .venv first (idempotent), so a fresh machine needs
# nothing but python3 >= 3.10 with venv and a C compiler.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${TSPY_VENV:-.venv}"
PY="$VENV/bin/python"

# A stamp of everything the install depends on: when it is unchanged, the install is skipped
# (so `./dev.sh test tests/x` starts at once). TSPY_FORCE_INSTALL=1 installs anyway.
inputs_stamp() {
  { echo "$VENV ${TSPY_ZARR3_VENV:-.venv-zarr3}"; python3 --version 2>&1
    cat pyproject.toml setup.py MANIFEST.in requirements-test-extra.txt dev.sh
    find _ext -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.h' \) -print0 | sort -z | xargs -0 cat
  } | sha256sum | cut -d' ' -f1
}

install() {
  local stamp_file="$VENV/.tspy-install-stamp" stamp
  stamp="$(inputs_stamp)"
  if [ -z "${TSPY_FORCE_INSTALL:-}" ] && [ -x "$PY" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
    return 0
  fi
  rm -f "$stamp_file"
  if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
  fi
  # zlib headers for the Cython gzip/zlib kernel (present on most machines; install if not).
  if [ ! -f /usr/include/zlib.h ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq zlib1g-dev) >/dev/null
  fi
  # Info-ZIP's `zip` writes some of the archives the zip kvstore tests read.
  if ! command -v zip >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq zip) >/dev/null
  fi
  "$PY" -m pip install -q --upgrade pip setuptools wheel "Cython>=3.0" "numpy>=2.0"
  "$PY" -m pip install -q --no-build-isolation -e ".[test,gcs,s3,docs,bench,dask]"
  "$PY" -m pip install -q -r requirements-test-extra.txt
  # zarr-python 3 cannot share .venv with zarr 2.18: the zarr3 compatibility tests (and
  # bench/bench_zarr3.py, with the zarrs codec pipeline when it installs) run it from its own.
  local ZVENV="${TSPY_ZARR3_VENV:-.venv-zarr3}"
  if [ ! -x "$ZVENV/bin/python" ]; then
    python3 -m venv "$ZVENV"
  fi
  "$ZVENV/bin/python" -m pip install -q "zarr>=3" "numpy>=2"
  "$ZVENV/bin/python" -m pip install -q zarrs || echo "zarrs codec pipeline not installable here" >&2
  echo "$stamp" > "$stamp_file"
}

# Bytecode of the package, as an installed wheel has it: an editable install gets none, and
# under PYTHONDONTWRITEBYTECODE=1 every process (each CLI or subprocess test) would compile
# every module it imports from source again (a few tenths of a second each).  Only changed
# files are compiled, so this costs a fraction of a second.
compile_bytecode() {
  "$PY" -m compileall -q tensorstore_py >/dev/null 2>&1 || true
}

cmd="${1:-}"
shift || true
case "$cmd" in
  demo)
    install
    compile_bytecode
    exec "$PY" -m tensorstore_py.demo "$@"
    ;;
  test)
    install
    compile_bytecode
    exec "$PY" -m pytest -q "$@"
    ;;
  install)
    install
    ;;
  *)
    echo "usage: $0 demo|test [pytest args]|install" >&2
    exit 2
    ;;
esac
