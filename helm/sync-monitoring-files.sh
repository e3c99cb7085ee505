#!/bin/sh
# Copies the monitoring content the chart ships (alerts, dashboard) from
# monitoring/ into the chart. tests/artefacts/test_helm_chart.py fails when the copies
# differ, so run this after changing monitoring/alerts.yaml or dashboard.json.
set -eu
cd "$(dirname "$0")/.."
for file in alerts.yaml dashboard.json; do
    cp "monitoring/$file" "helm/aws-reservation-exporter/files/$file"
done
