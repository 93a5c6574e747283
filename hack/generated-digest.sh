#!/usr/bin/env bash
# Prints one digest over every generated file, so `make verify-generated`
# can tell whether regenerating changed anything (committed or not): the
# CRDs and RBAC in config/, deepcopy, the chart's CRD templates and the
# README's values table.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  find api config/crd/bases config/rbac/role.yaml -type f \( -name 'zz_generated*' -o -path 'config/*' \) 2>/dev/null
  find charts/azure-authenticator/templates -type f -name 'crd-*.yaml' 2>/dev/null
  echo README.md
} | LC_ALL=C sort | xargs -r sha256sum | sha256sum
