# Sourced by the other scripts: make .venv and install mista into it when anything that
# shapes the install (pyproject.toml, setup.py, the compiled core's sources) has changed.
# Usage: . scripts/_env.sh [EXTRAS]   e.g. ". scripts/_env.sh dev"
set -eu
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "mista: creating .venv with $($python --version)" >&2
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=".venv/.mista-install-$(cat pyproject.toml setup.py src/mista/ais/*.pyx src/mista/ais/*.h 2>/dev/null | cksum | cut -d' ' -f1)-${extras}"
if [ ! -f "$stamp" ]; then
    echo "mista: installing mista${extras:+[$extras]} into .venv (builds the compiled AIS core)" >&2
    rm -f .venv/.mista-install-*
    .venv/bin/python -m pip install --quiet --editable ".${extras:+[$extras]}"
    touch "$stamp"
fi
