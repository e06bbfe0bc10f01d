#!/usr/bin/env bash
# Builds the project image with podman from the Dockerfile, fast: the dependencies come as wheels
# made by this machine's pip (from its cache or index, pinned to the versions of the venv that ran
# the tests) and mounted into the build, so the image's install step is offline. Without this
# script the same Dockerfile downloads everything from the package index (default build args).
#
#   scripts/build_image.sh [TAG [podman build options]]   # default localhost/churn-assets:dev
#
# Env: BASE_IMAGE (localhost/debian:bookworm, from scripts/podman_setup.sh), PYTHON (the venv's
# python that pins the versions, .venv/bin/python), WHEELS_DIR (.local/image-wheels, kept so a
# second build reuses it).
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-localhost/churn-assets:dev}"
shift || true
base="${BASE_IMAGE:-localhost/debian:bookworm}"
python="${PYTHON:-.venv/bin/python}"
wheels="${WHEELS_DIR:-$PWD/.local/image-wheels}"
mkdir -p "$wheels"

started=$SECONDS
# The tested versions as constraints (the project itself is built from the context, not here).
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
"$python" -m pip list --format=freeze --exclude-editable \
  | grep -viE "^(pip|setuptools|wheel)==" >"$constraints"
# (A pip config naming local index folders that do not hold a package warns once per package.)
"$python" -m pip wheel --quiet --wheel-dir "$wheels" --constraint "$constraints" \
  . "setuptools>=68" wheel 2> >(grep -v "is neither a file nor a directory" >&2)
rm -f "$wheels"/churn_assets-*.whl
echo "build_image: $(ls "$wheels" | wc -l) wheels in $wheels ($((SECONDS - started)) s)"

args=(build --build-arg "BASE_IMAGE=$base" --build-arg WHEELS=/wheels
  --volume "$wheels:/wheels:ro" --tag "$tag")
ca=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca" ] && args+=(--secret "id=pip_ca,src=$ca")  # a proxy with its own CA (pip in the build)
podman "${args[@]}" "$@" .
echo "build_image: built $tag in $((SECONDS - started)) s"
