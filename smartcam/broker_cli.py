"""``smartcam broker ...``: a local broker to try things with; credentials and certificates for a site's Mosquitto."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``broker`` command group."""
    broker = sub.add_parser("broker", help="a local broker; site broker security: passwords and TLS certificates")
    cmds = broker.add_subparsers(dest="broker_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("run", help="a local broker on 127.0.0.1 (mosquitto if installed, else amqtt in-process) until SIGTERM / Ctrl-C")
    p.add_argument("--port", type=int, default=1883, help="port on 127.0.0.1 (default: %(default)s, where configs/gateway.local.yaml looks)")
    p.add_argument("--amqtt", action="store_true", help="the in-process amqtt broker even if mosquitto is installed (MQTT 3.1.1 only)")
    p.set_defaults(func=_run)

    p = cmds.add_parser("credentials", help="write a Mosquitto password file and one secret file per user")
    p.add_argument("--out", type=Path, required=True, help="folder for passwd and secrets/ (keep it private)")
    p.add_argument("--users", nargs="+", required=True, help="camera ids and the gateway's user (e.g. smartcam-gateway)")
    p.set_defaults(func=_credentials)

    p = cmds.add_parser("certs", help="write a site CA, the broker's certificate and per-client certificates")
    p.add_argument("--out", type=Path, required=True, help="output folder (keys are written mode 0600)")
    p.add_argument("--site", default="site", help="site name in the certificates (default: %(default)s)")
    p.add_argument("--host", nargs="+", default=["localhost", "127.0.0.1"],
                   help="broker host names / IPs the server certificate is valid for (default: %(default)s)")
    p.add_argument("--clients", nargs="*", default=[], help="camera ids and gateway users that get a client certificate")
    p.add_argument("--days", type=int, default=825, help="validity of server and client certificates (default: %(default)s)")
    p.set_defaults(func=_certs)


def _run(args: argparse.Namespace) -> int:
    from smartcam.broker import EmbeddedBroker

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with EmbeddedBroker(prefer_mosquitto=not args.amqtt, port=args.port) as url:
        print(f"broker on {url} (no login, this machine only); Ctrl-C stops it", flush=True)
        stop.wait()
    return 0


def _credentials(args: argparse.Namespace) -> int:
    from smartcam.site_security import write_credentials

    files = write_credentials(args.out, args.users)
    print(f"password file: {args.out / 'passwd'} (mosquitto password_file)")
    for user, path in files.items():
        print(f"  {user}: mqtt.password_file = {path}")
    return 0


def _certs(args: argparse.Namespace) -> int:
    from smartcam.site_security import write_pki

    paths = write_pki(args.out, args.site, args.host, args.clients, args.days)
    print(f"CA {paths['ca']}, server certificate {paths['server']}; {len(args.clients)} client certificates in {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
