# pyinit as the entrypoint of an image.
#
# From a plain clone, with a package index reachable, this is all it takes
# (the first stage builds the wheels of pyinit, psutil, structlog and cronsim):
#
#   docker build -t pyinit .
#   podman build -t pyinit .
#
# Behind a mirror of the index: --build-arg PIP_INDEX_URL=https://mirror/simple
# (the build's host network reaches a local one: --network host).
#
# Offline (CI here: no image registry, no index inside the build): build the
# wheels beforehand into wheelhouse/ in the build context; the first stage then
# uses them as they are and touches no index. With the debootstrap base that
# scripts/containers/setup.sh makes (Debian bookworm, python3 3.11 + venv):
#
#   python3 -m pip wheel . -w wheelhouse
#   DOCKER_BUILDKIT=0 docker build --network none \
#       --build-arg BASE=localhost/pyinit-base:bookworm -t localhost/pyinit:dev .
#   podman build --network none \
#       --build-arg BASE=localhost/pyinit-base:bookworm -t localhost/pyinit:dev .
#
# or scripts/containers/build-image.sh, which does all of it in a temp context.
# The wheels must suit the base image's python: pyinit, structlog and cronsim are pure
# python, psutil ships abi3 (cp36+) wheels. Any base with Python 3.11+ works.
# Plain Dockerfile syntax only: the legacy builder (DOCKER_BUILDKIT=0), BuildKit
# and buildah all take it.
ARG BASE=python:3.12-slim

FROM ${BASE} AS wheels
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY . .
RUN if ls wheelhouse/*.whl >/dev/null 2>&1; then \
        echo "pyinit: using the wheels in wheelhouse/"; \
        mkdir -p /wheels && cp wheelhouse/*.whl /wheels/; \
    else \
        python3 -m pip wheel . -w /wheels; \
    fi

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
COPY --from=wheels /wheels/ /tmp/wheelhouse/
RUN python3 -m venv /opt/pyinit \
 && /opt/pyinit/bin/pip install --no-index --find-links /tmp/wheelhouse pyinit \
 && /opt/pyinit/bin/python -m pyinit.launcher \
 && ln -sf /opt/pyinit/bin/pyinit /usr/local/bin/pyinit \
 && rm -rf /tmp/wheelhouse \
 && /opt/pyinit/bin/python -c 'import pyinit'

ENV PATH=/opt/pyinit/bin:$PATH
ENTRYPOINT ["pyinit", "--"]
# Default command: show that the child is not PID 1 (pyinit is).
CMD ["python3", "-c", "import os; print(f'pid={os.getpid()} ppid={os.getppid()}: running under pyinit')"]
