#!/usr/bin/env bash
# Checks deploy/: the alert rules parse (promtool check rules) and fire exactly where their
# unit tests say (promtool test rules), and every PromQL expression of the Grafana dashboard
# parses (each becomes a recording rule for promtool, with the dashboard's variables filled).
# Usage: tests/deploy/check_prometheus.sh <source dir>
set -euo pipefail
src=${1:?source dir}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

promtool check rules "$src/deploy/prometheus/ipfence-alerts.yaml"
(cd "$src/deploy/prometheus" && promtool test rules ipfence-alerts.test.yaml)

jq -e '.panels | length > 0' "$src/deploy/grafana/ipfence-dashboard.json" >/dev/null
{
  echo "groups:"
  echo "  - name: dashboard"
  echo "    rules:"
  jq -r '.panels[].targets[].expr' "$src/deploy/grafana/ipfence-dashboard.json" |
    sed -e 's/\$__rate_interval/1m/g' -e 's/\$instance/.*/g' -e 's/\$pool/.*/g' |
    awk '{ n++; gsub(/'\''/, "'\'''\''"); printf "      - record: dashboard:expr%d\n        expr: '\''%s'\''\n", n, $0 }'
} >"$work/dashboard-rules.yaml"
if grep -q '\$' "$work/dashboard-rules.yaml"; then
  echo "dashboard: an expression uses a variable this check does not know:" >&2
  grep '\$' "$work/dashboard-rules.yaml" >&2
  exit 1
fi
promtool check rules "$work/dashboard-rules.yaml"
# Every metric the dashboard and the rules name is one the agent exports (agent/*.cpp,
# agent/conflict/*.cpp): a renamed metric must not leave a silent panel behind.
missing=0
for metric in $(cat "$src/deploy/grafana/ipfence-dashboard.json" "$src/deploy/prometheus/ipfence-alerts.yaml" |
  grep -o 'ipfence_[a-z_]*' | sed -e 's/_bucket$//' | sort -u); do
  if ! grep -rqs "\"$metric\"" "$src/agent"; then
    echo "deploy: $metric is not a metric of the agent" >&2
    missing=1
  fi
done
exit $missing
