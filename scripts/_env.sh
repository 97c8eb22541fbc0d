# Sourced by the other scripts: make .venv and install mista into it when anything that
# shapes the install (pyproject.toml, setup.py, the compiled core's sources) has changed.
# Usage: MISTA_EXTRAS=dev . scripts/_env.sh   (POSIX sh passes no arguments to ".")
set -eu
cd "$(dirname "$0")/.."
extras="${MISTA_EXTRAS:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "mista: creating .venv with $($python --version)" >&2
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
base=".venv/.mista-install-$(cat pyproject.toml constraints.txt setup.py src/mista/ais/*.pyx src/mista/ais/*.h src/mista/fuse/*.pyx 2>/dev/null | cksum | cut -d' ' -f1)"
stamp="$base-${extras}"
# An install with the dev extras also satisfies a plain one.
if [ ! -f "$stamp" ] && ! { [ -z "$extras" ] && [ -f "$base-dev" ]; }; then
    echo "mista: installing mista${extras:+[$extras]} into .venv (builds the compiled AIS core)" >&2
    find .venv -maxdepth 1 -name '.mista-install-*' ! -name "${base#.venv/}-*" -delete
    .venv/bin/python -m pip install --quiet --constraint constraints.txt --editable ".${extras:+[$extras]}"
    touch "$stamp"
fi
# The web map's copy of MapLibre (git-ignored) is built with npm from web/package-lock.json;
# rebuild it when it is missing or was built from another lock.
web_lock="$(cksum < web/package-lock.json | cut -d' ' -f1)"
if [ "$(cat src/mista/web/static/vendor/.lock-cksum 2>/dev/null || true)" != "$web_lock" ]; then
    ./scripts/build_web
fi
