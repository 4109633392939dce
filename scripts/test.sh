#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The MQTT integration tests need a real Mosquitto; install it where we can (root + apt).
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null) || echo "warning: could not install mosquitto; MQTT tests will skip"
fi
exec .venv/bin/python -m pytest -q "$@"
