#!/usr/bin/env bash
# Installs the system tools the end-to-end tests use, when missing:
#   promtool + prometheus (Debian "prometheus"),
#   amtool + prometheus-alertmanager (Debian "prometheus-alertmanager"),
#   a headless browser for the landing page's tests (Debian "chromium"),
#   the TypeScript compiler and Grafana's schema (npm, into monitoring/schema-check).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)

if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else sudo=none; fi
    if [ "$sudo" = none ]; then
        echo "install-tools: please install Debian packages: ${need_apt[*]}" >&2
    else
        echo "install-tools: installing ${need_apt[*]}" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    fi
fi
# The Debian packages start services on install where an init system runs; the
# tests start their own instances on free ports, so those are not needed.

if [ -f monitoring/schema-check/package.json ] && command -v npm >/dev/null 2>&1; then
    if [ ! -d monitoring/schema-check/node_modules ]; then
        (cd monitoring/schema-check && npm ci --no-audit --no-fund --silent)
    fi
fi

# prometheus-operator API types for the chart's ServiceMonitor/PrometheusRule check.
if [ -f helm/schema-check/package.json ] && command -v npm >/dev/null 2>&1; then
    if [ ! -d helm/schema-check/node_modules ]; then
        (cd helm/schema-check && npm ci --no-audit --no-fund --silent)
    fi
fi
