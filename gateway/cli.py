"""``smartcam gateway ...``: run the daemon (+ API), write the savings report."""
from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from gateway.config import ConfigError, GatewayConfig, load_gateway_config

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``gateway`` command group."""
    gw = sub.add_parser("gateway", help="MQTT gateway: ingest, store, retention, API, savings report")
    cmds = gw.add_subparsers(dest="gateway_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("run", help="run the daemon (and the HTTP API) until SIGTERM / Ctrl-C")
    _common(p)
    p.add_argument("--broker", help="override mqtt.url (mqtt://host:port)")
    p.add_argument("--no-api", action="store_true", help="do not serve the HTTP API")
    p.add_argument("--port", type=int, help="override api.port")
    p.set_defaults(func=_run)

    p = cmds.add_parser("report", help="write the storage-savings report (HTML + PNG plots, JSON, CSV)")
    _common(p)
    p.add_argument("--since", help="start: ISO date/time, unix seconds, or an age like 7d / 12h")
    p.add_argument("--camera", help="only this camera")
    p.add_argument("--truth", type=Path, help="a node metrics.json to show detection quality next to savings")
    p.add_argument("--out", type=Path, default=Path("runs/report"), help="output folder (default: %(default)s)")
    p.set_defaults(func=_report)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="gateway YAML (default: built-in defaults)")
    p.add_argument("--dsn", help="override store.dsn (sqlite:///path or postgresql://...)")
    p.add_argument("--media", type=Path, help="override store.media_dir")


def load(args: argparse.Namespace) -> GatewayConfig:
    cfg = load_gateway_config(args.config)
    if args.dsn:
        cfg.store.dsn = args.dsn
    if args.media:
        cfg.store.media_dir = args.media
    return cfg


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """``None``, unix seconds, an ISO date/time, or an age such as ``7d``, ``12h``, ``30m``."""
    if text is None:
        return None
    now = time.time() if now is None else now
    if m := re.fullmatch(r"(\d+(?:\.\d+)?)([dhm])", text):
        return now - float(m.group(1)) * {"d": 86400, "h": 3600, "m": 60}[m.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ConfigError(f"--since: cannot read {text!r} (use 2026-11-01, 1795000000 or 7d)") from None


def _run(args: argparse.Namespace) -> int:
    from gateway.daemon import GatewayDaemon

    cfg = load(args)
    if args.broker:
        cfg.mqtt.url = args.broker
    if args.port is not None:
        cfg.api.port = args.port
    daemon = GatewayDaemon(cfg)
    app = None if args.no_api else api_app(cfg, daemon)  # a missing API token stops us before we connect
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    daemon.start()
    server = None if app is None else serve_api(cfg, app)
    logger.info("gateway running; store %s", cfg.store.dsn)
    stop.wait()
    daemon.stop()
    if server is not None:
        server.should_exit = True
    return 0


def api_app(cfg: GatewayConfig, daemon) -> object:
    """The HTTP API over the daemon's store (raises ``ConfigError`` without a token, unless reads are opened)."""
    from gateway.api import create_app

    return create_app(cfg, daemon.store, daemon.media, daemon.metrics, daemon.clips)


def serve_api(cfg: GatewayConfig, app) -> object:
    """Start uvicorn in a thread; returns the server (set ``should_exit`` to stop)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=cfg.api.host, port=cfg.api.port, log_level="warning"))
    threading.Thread(target=server.run, name="gateway-api", daemon=True).start()
    host = "127.0.0.1" if cfg.api.host in ("0.0.0.0", "::") else cfg.api.host
    logger.info("HTTP API and page on http://%s:%d/ (listening on %s)", host, cfg.api.port, cfg.api.host)
    return server


def _report(args: argparse.Namespace) -> int:
    from gateway.report import write_report
    from gateway.store import Store, sqlite_path

    cfg = load(args)
    path = sqlite_path(cfg.store.dsn)
    if path is not None and not path.exists():
        raise ConfigError(f"no store at {path} (the gateway's default; `smartcam demo` writes "
                          f"runs/demo/gateway/smartcam.db): pass --dsn sqlite:///PATH or --config")
    store = Store(cfg.store.dsn)
    doc = write_report(store, args.out, cfg.report, parse_since(args.since), args.camera, args.truth)
    if not doc["events"] and not doc["total"]["frames"]:
        print(f"note: the store at {cfg.store.dsn} holds no events and no stats"
              f"{' for that period or camera' if args.since or args.camera else ''}", file=sys.stderr)
    t = doc["total"]
    print(headline(t))
    print(f"report: {args.out / 'report.html'}")
    return 0


def headline(total: dict) -> str:
    """The three savings in one line, for the terminal."""
    from gateway.report import fmt_duration, fmt_percent

    return (f"{fmt_duration(total['seconds'])} of camera time, {total['events']} events: Wi-Fi {fmt_percent(total['wifi']['saved_percent'])} "
            f"saved vs streaming MJPEG, SD card {fmt_percent(total['sd_card']['saved_percent'])} vs continuous MJPEG, server "
            f"{fmt_percent(total['server']['saved_vs_h264_percent'])} vs continuous H.264")


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``gateway`` command; errors become a message and exit status 1."""
    try:
        return args.func(args)
    except (ConfigError, ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
