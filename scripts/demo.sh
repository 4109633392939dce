#!/usr/bin/env bash
# Set up (if needed) and run the main job end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/smartcam demo "$@"
