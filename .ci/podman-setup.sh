#!/usr/bin/env bash
# Podman for the stack test: podman 4.3, podman-compose 1.3.0 and debootstrap (shared/stack-images/
# install-podman.sh), then the stand-in base images (shared/stack-images/build.sh). Idempotent; root.
#
# Two things more than the shared install-podman.sh does (below; DESIGN.md, "podman and podman-compose"): on a host whose cgroups are mounted in hybrid mode (v1
# controllers with an empty v2 hierarchy beside them), crun refuses every container ("cgroups in
# hybrid mode not supported"); runc runs them. So on such a host podman is told to use runc.
set -euo pipefail
shared=${SHARED_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
bash "$shared/stack-images/install-podman.sh"
# Name resolution between containers: podman 4.3's CNI backend needs the dnsname plugin, only a
# Recommends of podman (install-podman.sh installs without them), so services could not find
# each other by name ("proxy", "parseable").
if [ "$(podman info --format '{{.Host.NetworkBackend}}')" = cni ] && ! dpkg -s golang-github-containernetworking-plugin-dnsname >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-github-containernetworking-plugin-dnsname >/dev/null
fi
if [ -d /sys/fs/cgroup/unified ] && [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; then
  command -v runc >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runc >/dev/null; }
  if ! grep -qs '^runtime *= *"runc"' /etc/containers/containers.conf; then
    printf '[engine]\nruntime = "runc"\n' >> /etc/containers/containers.conf
  fi
fi
bash "$shared/stack-images/build.sh"
