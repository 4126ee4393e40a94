#!/usr/bin/env bash
# Build the pyinit image (top-level Dockerfile) offline, without touching the
# work tree: copies the project to a temp dir, builds wheels there on the host
# (`pip wheel . -w wheelhouse`: pyinit + psutil + structlog), and runs the
# build with the network off.
#
# Usage: build-image.sh [--engine docker|podman] [--base IMAGE] [--tag TAG] [--src DIR]
#   defaults: docker, localhost/pyinit-base:bookworm, localhost/pyinit:dev, this repo
# Needs the environment from setup.sh (DOCKER_HOST / CONTAINERS_CONF ...):
#   eval "$(scripts/containers/setup.sh)"; scripts/containers/build-image.sh
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
SRC=$REPO ENGINE=docker BASE=localhost/pyinit-base:bookworm TAG=localhost/pyinit:dev
PYTHON=${PYTHON:-python3}
while [ $# -gt 0 ]; do
    case $1 in
        --engine) ENGINE=$2; shift 2 ;;
        --base) BASE=$2; shift 2 ;;
        --tag) TAG=$2; shift 2 ;;
        --src) SRC=$(cd "$2" && pwd); shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
mkdir "$CTX/src"
tar -C "$SRC" -c --exclude-vcs --exclude=./.venv --exclude=./dist --exclude=./build \
    --exclude=./wheelhouse --exclude='*.egg-info' --exclude=__pycache__ \
    --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache . | tar -C "$CTX/src" -x
t0=$(date +%s%3N)
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check \
    "$CTX/src" -w "$CTX/wheelhouse" >&2
t1=$(date +%s%3N)
cp "$REPO/Dockerfile" "$REPO/.dockerignore" "$CTX/"
case $ENGINE in
    docker) DOCKER_BUILDKIT=0 /usr/bin/docker ${DOCKER_HOST:+-H "$DOCKER_HOST"} build -q \
                --network none --build-arg "BASE=$BASE" -t "$TAG" "$CTX" >&2 ;;
    podman) podman build -q --network none --build-arg "BASE=$BASE" -t "$TAG" "$CTX" >&2 ;;
    *) echo "unknown engine $ENGINE" >&2; exit 2 ;;
esac
t2=$(date +%s%3N)
echo "built $TAG with $ENGINE from $BASE (wheels $((t1 - t0)) ms: $(cd "$CTX/wheelhouse" && echo *); image $((t2 - t1)) ms)" >&2
