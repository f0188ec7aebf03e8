# soundflow image: CPU by default; for CUDA build with
#   docker build --build-arg BASE_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 -t soundflow:cuda .
# (the pinned torch 2.14.1 wheels bring their own CUDA 13 libraries; the base only needs the driver's runtime).
# Inside, `make run` is the same default pipeline as on a workstation.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DVC_NO_ANALYTICS=1 MLFLOW_DISABLE_TELEMETRY=true PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 \
    HF_HUB_OFFLINE=1

# libsox: soxbindings (scaper) builds against it and needs it at run time; git: DVC and run tags
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
        make git g++ libsox-dev sox libsox-fmt-all libsndfile1 \
        $(command -v python3 >/dev/null || echo python3 python3-venv python3-dev) \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /soundflow
# dependencies first, so code changes do not reinstall them
COPY requirements/ requirements/
COPY pyproject.toml Makefile ./
RUN python3 -m venv .venv \
    && .venv/bin/pip install -q --upgrade pip wheel setuptools \
    && .venv/bin/pip install -c requirements/constraints.txt -r requirements/main.in
COPY . .
RUN git init -q 2>/dev/null || true; make install && touch .venv/.installed

CMD ["make", "run"]
