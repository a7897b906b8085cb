# Sourced by run.sh and test.sh: create .venv with Python 3.11 if missing and install a requirements
# file into it (pip skips what is already there), then put it first on PATH.
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "Qungui needs Python 3.11 (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$1"
export PATH="$PWD/.venv/bin:$PATH"
