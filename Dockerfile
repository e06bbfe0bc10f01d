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

ARG PYTHON_IMAGE=python:3.11-slim

############################################ builder ##############################################
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first (pinned in pyproject.toml: dagster==1.13.27, dagster-*==0.29.27,
# mlflow==3.17.2, ...), so a code change does not rebuild the dependency wheels.
COPY pyproject.toml setup.py README.md ./
RUN mkdir churn_assets && touch churn_assets/__init__.py \
    && pip wheel --wheel-dir /wheels . \
    && rm /wheels/churn_assets-*.whl
COPY churn_assets ./churn_assets
RUN pip wheel --no-deps --wheel-dir /wheels .

############################################ runtime ##############################################
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# libgomp1: OpenMP runtime that the xgboost wheel links against and python:slim lacks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 churn \
    && useradd --uid 10001 --gid 10001 --home-dir /home/churn --create-home \
       --shell /usr/sbin/nologin churn
COPY --from=builder /wheels /tmp/wheels
RUN pip install --no-index --find-links=/tmp/wheels churn_assets \
    && rm -rf /tmp/wheels \
    && mkdir -p /opt/churn /opt/dagster/dagster_home /opt/dagster/compute_logs \
    && chown -R 10001:10001 /opt/churn /opt/dagster

WORKDIR /opt/churn
ENV DAGSTER_HOME=/opt/dagster/dagster_home CHURN_DEPLOYMENT=production
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# 3030: Dagster gRPC code server; 8080: model server (`churn-assets serve`).
EXPOSE 3030 8080
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-m", "churn_assets.definitions"]
