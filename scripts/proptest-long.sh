#!/usr/bin/env bash
# The property tests at 100,000 cases per property (CI runs proptest's
# default of 256): arbitrary requests through every gRPC handler, and
# arbitrary or damaged bytes and field values through event decoding, the
# fold, stored records and snapshots. Release mode. Not run by CI.
#
#   scripts/proptest-long.sh
#   PROPTEST_CASES=1000000 scripts/proptest-long.sh
#
# A failure prints the minimal failing input and is saved under the crate's
# proptest-regressions/ directory, so the next run tries it first.
set -euo pipefail
cd "$(dirname "$0")/.."

export PROPTEST_CASES=${PROPTEST_CASES:-100000}
start=$(date +%s)
# Every property test's module is named *props*: decode_props in icr-events,
# icr-log and icr-projections; validate::props and validate::props_audit in
# consent-service.
cargo test --release --lib \
  -p consent-service -p icr-events -p icr-log -p icr-projections \
  props
echo "$PROPTEST_CASES cases per property, $(( $(date +%s) - start )) s in all" >&2
