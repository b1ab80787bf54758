#!/usr/bin/env bash
# Re-download the dashboard's vendored JavaScript from the npm registry (`npm pack`, pinned
# versions) into host/wfhost/service/static/vendor/ and check each file's SHA-256.
#   scripts/vendor-frontend.sh          download, copy, verify
#   scripts/vendor-frontend.sh --check  verify the committed files only
set -euo pipefail
cd "$(dirname "$0")/.."
dest=host/wfhost/service/static/vendor
# package@version  file-in-tarball  vendored-name  sha256
files=(
    "cytoscape@3.30.4 package/dist/cytoscape.min.js cytoscape.min.js"
    "dagre@0.8.5 package/dist/dagre.min.js dagre.min.js"
    "cytoscape-dagre@2.5.0 package/cytoscape-dagre.js cytoscape-dagre.js"
    "chart.js@4.4.7 package/dist/chart.umd.js chart.umd.js"
)
if [ "${1:-}" != "--check" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    for line in "${files[@]}"; do
        read -r spec inner name <<<"$line"
        tgz=$(cd "$work" && npm pack --silent "$spec")
        tar -xzf "$work/$tgz" -C "$work" "$inner"
        cp "$work/$inner" "$dest/$name"
        rm -rf "$work/package"
    done
fi
(cd "$dest" && sha256sum --check --strict SHA256SUMS)
