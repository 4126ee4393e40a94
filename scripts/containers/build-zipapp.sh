#!/usr/bin/env bash
# Build dist/pyinit.pyz: a single-file, pure-python pyinit that can be
# injected into any image that has python3 (>= the project's requires-python):
#
#   podman run --init --init-path dist/pyinit.pyz IMAGE CMD...
#   dockerd --init-path /run/pyinit-ci/init/docker-init ...   (then docker run --init)
#
# Contents: the pyinit package (copied from the source tree), structlog and its
# pure-python dependencies and cronsim (schedules in services mode) (pip install --target), legacy .pyc files compiled
# by the building python (used by zipimport only when the magic number matches,
# otherwise the .py is used), and a __main__.py that calls the
# [project.scripts] pyinit entry point and exits with its return value.
# psutil is NOT included (it is compiled): pyinit must cope without it.
#
# Start-up: the archive begins with a two-line /bin/sh script (a zip may carry
# any prefix) that runs `python3 -IS -c` on it, the archive put on sys.path by
# its absolute path: no site, and none of runpy's imports (importlib.util,
# contextlib, functools...) that `python3 pyinit.pyz` pays before __main__.py.
# pyinit's own files are stored uncompressed, so zlib is imported only when
# structlog is (after the child runs). `python3 pyinit.pyz` still works.
#
# Usage: build-zipapp.sh [-o OUT] [--install PATH] [--src DIR]
#   -o OUT          output file (default: <src>/dist/pyinit.pyz)
#   --install PATH  also copy the result to PATH atomically (mode 0755), e.g.
#                   $PYINIT_INIT_PATH, the file dockerd was started with as
#                   --init-path (it is read at every 'docker run --init').
#   --src DIR       project directory holding pyproject.toml and pyinit/
#                   (default: this repository)
# Environment: PYTHON (default python3) builds; a wheelhouse/ directory in the
# project, if present, is searched first for structlog.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT=""
INSTALL=""
PYTHON=${PYTHON:-python3}
while [ $# -gt 0 ]; do
    case $1 in
        -o) OUT=$2; shift 2 ;;
        --install) INSTALL=$2; shift 2 ;;
        --src) SRC=$(cd "$2" && pwd); shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
OUT=${OUT:-$SRC/dist/pyinit.pyz}
[ -f "$SRC/pyinit/__init__.py" ] || { echo "no pyinit package in $SRC" >&2; exit 1; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

# Entry point and structlog requirement from pyproject.toml (defaults if absent).
read -r ENTRY STRUCTLOG_REQ CRONSIM_REQ < <("$PYTHON" - "$SRC/pyproject.toml" <<'EOF'
import re, sys
entry, req, cron = "pyinit.cli:main", "structlog", "cronsim"
try:
    import tomllib
    with open(sys.argv[1], "rb") as f:
        proj = tomllib.load(f).get("project", {})
    entry = proj.get("scripts", {}).get("pyinit", entry)
    for dep in proj.get("dependencies", []):
        if re.match(r"structlog\b", dep):
            req = dep.replace(" ", "")
        if re.match(r"cronsim\b", dep):
            cron = dep.replace(" ", "")
except (OSError, ImportError):
    pass
print(entry, req, cron)
EOF
)

# 1. the package itself, from source (no build backend needed)
mkdir -p "$STAGE/app"
cp -a "$SRC/pyinit" "$STAGE/app/pyinit"
find "$STAGE/app" -depth \( -name '__pycache__' -exec rm -rf {} + \) -o \( -name '*.py[co]' -exec rm -f {} + \)

# 2. structlog (+ its pure-python deps) and cronsim, psutil deliberately left out
FIND_LINKS=()
[ -d "$SRC/wheelhouse" ] && FIND_LINKS=(--find-links "$SRC/wheelhouse")
"$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile \
    --only-binary=:all: "${FIND_LINKS[@]}" --target "$STAGE/app" "$STRUCTLOG_REQ" "$CRONSIM_REQ" >&2
rm -rf "$STAGE/app/bin"
if find "$STAGE/app" \( -name '*.so' -o -name '*.pyd' \) | grep -q .; then
    echo "compiled extension modules ended up in the zipapp:" >&2
    find "$STAGE/app" \( -name '*.so' -o -name '*.pyd' \) >&2
    exit 1
fi

# 3. entry point that propagates main()'s return value as the exit status
MOD=${ENTRY%%:*}
FN=${ENTRY#*:}
cat >"$STAGE/app/__main__.py" <<EOF
import sys
from $MOD import $FN
sys.exit($FN())
EOF

# 4. legacy .pyc next to each .py (zipimport can't write caches)
"$PYTHON" -m compileall -q -b -j0 "$STAGE/app" >/dev/null

mkdir -p "$(dirname "$OUT")"
cat >"$STAGE/head" <<'EOF'
#!/bin/sh
exec python3 -IS -c 'import sys;a=sys.argv[1];sys.path.insert(0,a if a[:1]=="/" else __import__("posix").getcwd()+"/"+a);del sys.argv[0];from pyinit.entry import run;run()' "$0" "$@"
EOF
"$PYTHON" - "$STAGE/app" "$STAGE/archive.zip" <<'EOF'
import os, sys, zipfile
app, out = sys.argv[1:]
with zipfile.ZipFile(out, "w") as z:
    for root, dirs, files in os.walk(app):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            arc = os.path.relpath(path, app)
            stored = arc.startswith("pyinit/") or "/" not in arc
            z.write(path, arc, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
EOF
cat "$STAGE/head" "$STAGE/archive.zip" >"$STAGE/pyinit.pyz"
chmod 0755 "$STAGE/pyinit.pyz"
mv -f "$STAGE/pyinit.pyz" "$OUT"
echo "built $OUT ($(du -k "$OUT" | cut -f1) KiB, entry $ENTRY, $STRUCTLOG_REQ)" >&2

if [ -n "$INSTALL" ]; then
    mkdir -p "$(dirname "$INSTALL")"
    cp -f "$OUT" "$INSTALL.tmp.$$"
    chmod 0755 "$INSTALL.tmp.$$"
    mv -f "$INSTALL.tmp.$$" "$INSTALL"
    echo "installed $INSTALL" >&2
fi
