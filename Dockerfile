# syntax=docker/dockerfile:1
# The churn_assets image: one image for the Dagster code server (gRPC, the default command), the
# run and step pods that K8sRunLauncher / k8s_job_executor start from it, the model server
# (`churn-assets serve`) and, in docker-compose.yml, the Dagster webserver/daemon and MLflow server.
#
#   docker build -t ghcr.io/churn-assets/churn-assets:0.1.0 .
#
# Why CMD and no ENTRYPOINT: the Dagster Helm chart starts the code server with container `args`
# (["dagster", "api", "grpc", ...]) and K8sRunLauncher starts run pods with `args`
# (["dagster", "api", "execute_run", ...]); an ENTRYPOINT would be prefixed to both and break
# them. A bare `docker run` of the image still starts the gRPC code server.

# The base is a build argument so the same file builds where no registry is reachable: there
# `scripts/podman_setup.sh` makes localhost/debian:bookworm from Debian's packages and
#   podman build --build-arg BASE_IMAGE=localhost/debian:bookworm -t churn-assets:dev .
# A base without Python gets Debian's python3 (3.11 on bookworm, as python:3.11-slim).
# `scripts/build_image.sh` does that with the dependencies as local wheels (WHEELS, below): about
# 6 min from nothing on a 2-core machine instead of 18-29 min of downloads in the build.
ARG BASE_IMAGE=python:3.11-slim

############################################ builder ##############################################
# Only the dependencies: this stage (and the runtime layer copying its venv) is rebuilt only when
# pyproject.toml changes, so a code change rebuilds one small layer.
FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN (command -v python3 >/dev/null && python3 -c "import ensurepip" 2>/dev/null) \
    || (apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*)
WORKDIR /src
# Pinned in pyproject.toml: dagster==1.13.27, dagster-*==0.29.27, mlflow==3.17.2, ... pip's
# download cache is a build cache mount. Behind a proxy with its own CA, pass the bundle as a
# build secret (`--secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt`); it is mounted for
# this step only and is in no layer.
# WHEELS (empty by default: from the package index) names a folder of wheels mounted at build
# time, e.g. `--volume $PWD/.local/image-wheels:/wheels:ro --build-arg WHEELS=/wheels`, made by
# `scripts/build_image.sh` from the host's pip: the install is then offline, in seconds instead
# of a download of every dependency.
ARG WHEELS=
COPY pyproject.toml setup.py README.md ./
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=pip_ca,required=false \
    if [ -f /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && offline="" && if [ -n "$WHEELS" ]; then offline="--no-index --find-links $WHEELS"; fi \
    && python3 -m venv /opt/venv \
    && mkdir churn_assets && touch churn_assets/__init__.py \
    && /opt/venv/bin/pip install "setuptools>=68" wheel $offline \
    && /opt/venv/bin/pip install . $offline \
    && /opt/venv/bin/pip uninstall -y churn_assets

############################################ runtime ##############################################
FROM ${BASE_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# libgomp1: OpenMP runtime that the xgboost wheel links against and python:slim lacks.
RUN packages="libgomp1" \
    && if ! command -v python3 >/dev/null; then packages="$packages python3"; fi \
    && apt-get update \
    && apt-get install -y --no-install-recommends $packages \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 churn \
    && useradd --uid 10001 --gid 10001 --home-dir /home/churn --create-home \
       --shell /usr/sbin/nologin churn
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The package itself, offline (the build backend is already in the venv).
COPY pyproject.toml setup.py README.md /tmp/src/
COPY churn_assets /tmp/src/churn_assets
RUN pip install --no-deps --no-build-isolation --no-index /tmp/src \
    && rm -rf /tmp/src \
    && mkdir -p /opt/churn /opt/dagster/dagster_home /opt/dagster/compute_logs \
    && chown -R 10001:10001 /opt/churn /opt/dagster

WORKDIR /opt/churn
ENV DAGSTER_HOME=/opt/dagster/dagster_home \
    CHURN_DEPLOYMENT=production
# Numeric, so that Kubernetes' runAsNonRoot can verify it. The root file system can be
# read-only (the manifests and the image test run it so): writes go to mounted volumes and /tmp.
USER 10001:10001
# 3030: Dagster gRPC code server; 8080: model server (`churn-assets serve`).
EXPOSE 3030 8080
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-m", "churn_assets.definitions"]
