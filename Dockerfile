# pyinit as the entrypoint of an image.
#
# The build never touches a package index: it installs pyinit and its
# dependencies (psutil, structlog) from wheels built on the host into
# wheelhouse/ in the build context. Build them first:
#
#   python3 -m pip wheel . -w wheelhouse          # (`make image` / the tests do this)
#   docker build -t pyinit:dev .                  # default BASE python:3.12-slim
#
# Offline CI (no image registry): use the debootstrap base made by
# scripts/containers/setup.sh (Debian bookworm python3 3.11 + venv):
#
#   DOCKER_BUILDKIT=0 /usr/bin/docker build --network none \
#       --build-arg BASE=localhost/pyinit-base:bookworm -t localhost/pyinit:dev .
#   podman build --network none \
#       --build-arg BASE=localhost/pyinit-base:bookworm -t localhost/pyinit:dev .
#
# or scripts/containers/build-image.sh, which does all of it in a temp context.
# The wheelhouse must hold a wheel compatible with the base image's python:
# pyinit and structlog are pure python, psutil ships abi3 (cp36+) wheels.
ARG BASE=python:3.12-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

COPY wheelhouse/ /tmp/wheelhouse/
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
