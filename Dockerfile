# soundflow image: CPU by default; for CUDA build with
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 -t soundflow:cuda .
# (the pinned torch 2.14.1 wheels bring their own CUDA 13 libraries; the base only needs the driver's runtime).
# Inside, `make run` is the same default pipeline as on a workstation; docker-compose.yml runs the servers,
# a worker and one service per workflow from this image. Dependencies are installed from the pinned
# requirements/constraints.txt; the process runs as the unprivileged user `soundflow`.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    DVC_NO_ANALYTICS=1 MLFLOW_DISABLE_TELEMETRY=true PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 \
    HF_HUB_OFFLINE=1 \
    PREFECT_HOME=/soundflow/.soundflow/prefect \
    PATH=/soundflow/.venv/bin:$PATH

# libsox: soxbindings (scaper) builds against it and needs it at run time; git: DVC and run tags.
# apt packages are not version-pinned: the CPU (Debian) and CUDA (Ubuntu) bases carry different versions;
# the Python dependencies, which decide the results, are pinned by requirements/constraints.txt.
# hadolint ignore=DL3008
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
        make git g++ libsox-dev sox libsox-fmt-all libsndfile1 \
    && if ! command -v python3 >/dev/null; then \
        apt-get install -y -q --no-install-recommends python3 python3-venv python3-dev; fi \
    && rm -rf /var/lib/apt/lists/*

# a fixed uid above the bases' own users (the CUDA base has uid 1000), so volumes get predictable owners
RUN groupadd --gid 10001 soundflow \
    && useradd --uid 10001 --gid 10001 --create-home --shell /bin/sh soundflow \
    && install -d -o soundflow -g soundflow /soundflow
WORKDIR /soundflow
USER 10001:10001

# dependencies first, so code changes do not reinstall them
COPY --chown=soundflow:soundflow requirements/ requirements/
COPY --chown=soundflow:soundflow pyproject.toml Makefile ./
RUN python3 -m venv .venv \
    && .venv/bin/pip install -q --upgrade pip==26.3 wheel==0.48.0 setuptools==84.2.1 \
    && .venv/bin/pip install -c requirements/constraints.txt -r requirements/main.in
COPY --chown=soundflow:soundflow . .
RUN (git init -q 2>/dev/null || true) && make install data-raw && touch .venv/.installed

# every mount point of the volumes below and of docker-compose.yml, created here so that a new volume belongs to
# `soundflow` (Docker creates a missing one as root); dvc.lock is linked into the state volume, which keeps it with
# the outputs it records (the entrypoint gives a fresh volume an empty lock: DVC refuses a dangling link)
RUN mkdir -p data outputs reports .soundflow .dvc/cache && ln -sf .soundflow/dvc.lock dvc.lock

# the S3 stand-in of docker-compose.yml (moto's server, as the tests use it): only in the image built with
# --build-arg S3_STAND_IN=1, at the version requirements/test.in pins
ARG S3_STAND_IN=0
RUN if [ "$S3_STAND_IN" = 1 ]; then pip install -c requirements/constraints.txt "moto[server]==5.2.5"; fi

# data, outputs, reports, DVC's config and cache, and the state (resumable training, Prefect's home, dvc.lock)
# outlive the container
VOLUME ["/soundflow/data", "/soundflow/outputs", "/soundflow/reports", "/soundflow/.dvc", "/soundflow/.soundflow"]

# the server modes (docker-compose.yml) set SOUNDFLOW_HEALTH_PORT and SOUNDFLOW_HEALTH_PATH (Prefect:
# /api/health, MLflow: /health); a batch run sets neither and is always healthy
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 CMD ["python", "-c", "import os, sys, urllib.request as r; p = os.environ.get('SOUNDFLOW_HEALTH_PORT'); p and r.urlopen('http://127.0.0.1:%s%s' % (p, os.environ.get('SOUNDFLOW_HEALTH_PATH', '/')), timeout=5); sys.exit(0)"]

ENTRYPOINT ["sh", "/soundflow/deploy/docker/entrypoint.sh"]
CMD ["make", "run"]
