#!/usr/bin/env bash
# Podman on a Debian bookworm machine without a Docker engine or a reachable container registry
# (facts in docs: README "The image"): installs podman, runc and debootstrap, makes podman use runc
# with cgroupfs and ulimits the machine allows, and builds the base image localhost/debian:bookworm
# from Debian's own packages when it is missing. Idempotent; run as root.
#
#   scripts/podman_setup.sh            # then: podman build --build-arg BASE_IMAGE=localhost/debian:bookworm .
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
BASE_IMAGE="${BASE_IMAGE:-localhost/debian:bookworm}"
SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

need=()
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "podman_setup: installing ${need[*]}"
  # Another apt run (CI installing its own packages) may hold the lock for a while: wait for it.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# crun (podman's default) refuses this machine's hybrid cgroups, and raising RLIMIT_NPROC is not
# permitted, so: runc, cgroupfs, and ulimits within what the machine allows.
conf=/etc/containers/containers.conf
settings='[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]'
if [ ! -e "$conf" ]; then
  echo "podman_setup: writing $conf"
  mkdir -p /etc/containers
  printf '# Written by churn_assets scripts/podman_setup.sh\n%s\n' "$settings" >"$conf"
elif ! grep -q '^runtime = "runc"' "$conf"; then
  # An existing file may already have these tables; a drop-in overrides without duplicating them.
  echo "podman_setup: $conf exists; writing the drop-in containers.conf.d/churn-assets.conf"
  mkdir -p /etc/containers/containers.conf.d
  printf '%s\n' "$settings" >/etc/containers/containers.conf.d/churn-assets.conf
fi

# No registry is reachable: make the Debian base from Debian's packages.
if ! podman image exists "$BASE_IMAGE"; then
  rootfs="$(mktemp -d /tmp/churn-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  echo "podman_setup: debootstrap $SUITE into $rootfs (about a minute)"
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >/dev/null
  tar -C "$rootfs" -c . | podman import - "$BASE_IMAGE" >/dev/null
  echo "podman_setup: imported $BASE_IMAGE"
fi
podman image exists "$BASE_IMAGE" || { echo "podman_setup: $BASE_IMAGE is missing after setup"; exit 1; }
echo "podman_setup: ready ($(podman --version), base image $BASE_IMAGE)"
