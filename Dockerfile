# syntax=docker/dockerfile:1
# The idgw gateway image (docs/operations.md). Two stages: `build` has the compilers a dependency
# without a wheel for this platform may need and installs idgw into a virtual environment;
# the final image copies only that environment onto the same pinned base, so no compiler, pip
# cache or source tree ships. Build: docker build -t idgw:VERSION .   (--build-arg FACE=0: without
# the face checks, see below). tests/deploy/ checks this file's promises (non-root, pinned base,
# health check, the entry point the compose file relies on).

# One exact release on one Debian release, for both stages: the venv's python is a symlink into the
# base image, so the two must be the same image. Pin the digest too where your registry mirror
# publishes one (python:3.11.10-slim-bookworm@sha256:...).
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# FACE=1: the face comparison and liveness signals of officer video proofing (dlib, OpenCV, the
# face model, about 400 MB); FACE=0 for a gateway that does not offer video proofing.
ARG FACE=1
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/idgw
WORKDIR /src
# Only what the package is built from (the .dockerignore keeps the rest out of the context too).
COPY pyproject.toml README.md ./
COPY idgw ./idgw
COPY policies ./policies
COPY providers ./providers
COPY face_check ./face_check
# A regular (not editable) install: templates, static files, migrations and policy data travel as
# package data (pyproject.toml), so /src is not needed at run time.
RUN if [ "$FACE" = "1" ]; then /opt/idgw/bin/pip install ".[face]"; \
    elif [ "$FACE" = "0" ]; then /opt/idgw/bin/pip install .; \
    else echo "FACE must be 1 or 0, got $FACE" >&2; exit 1; fi
# The installer is not needed to run: nothing in the final image can install packages.
RUN /opt/idgw/bin/python -m pip uninstall -y pip

FROM ${PYTHON_IMAGE}
# A fixed uid/gid, so volume permissions and a Kubernetes runAsUser can name it; no login shell, no home.
RUN groupadd --system --gid 10001 idgw \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin idgw
COPY --from=build /opt/idgw /opt/idgw
# PYTHONDONTWRITEBYTECODE: the image runs with a read-only root file system (docker-compose.yml
# read_only: true); the only writes are to /tmp (the metrics files of --workers N), a tmpfs.
ENV PATH=/opt/idgw/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
# Liveness only (/healthz: the process answers). Readiness (/readyz) is for the proxy and the
# orchestrator to route by; docker-compose.yml's gateways use it for their start order. Python,
# because the image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["idgw"]
# --no-migrate: the schema is migrated once by a separate job (`idgw db upgrade`, the compose
# file's migrate service), not by every instance at start; the gateway waits for it.
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-migrate"]
