#!/usr/bin/env bash
# Installs the real components `npm test` runs against, on Debian 12 (root, or sudo):
# Prometheus and promtool, the Pushgateway, Chromium (the report is opened in it), openssl
# (test certificates), the compilers better-sqlite3 builds with, and the libraries the real
# Fluent Bit 5.1.1 links, Go and the source of gjson (the JSON path library KEDA's metrics-api
# trigger uses; the KEDA test evaluates the ScaledObject's paths with it). Idempotent. `npm run setup`; `.ci/run` calls it too.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus prometheus-pushgateway openssl ca-certificates build-essential python3 chromium \
  libyaml-0-2 libsqlite3-0 libssl3 golang-go golang-github-tidwall-gjson-dev >/dev/null
# The Debian services are not needed: the tests start their own on free ports.
$SUDO systemctl disable --now prometheus prometheus-node-exporter prometheus-pushgateway >/dev/null 2>&1 || true
echo "setup: Prometheus, promtool, the Pushgateway, Chromium, openssl, Fluent Bit's libraries, Go and gjson are installed"
