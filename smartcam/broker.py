"""A broker for the zero-install demo: a real ``mosquitto`` if one is on PATH, else amqtt in-process.

amqtt speaks MQTT 3.1.1 only; the gateway falls back to 3.1.1 on its own.
"""
from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"embedded broker did not listen on port {port}")


try:  # resolved before any fork: the child only makes the one call
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: the with-block's exit still stops the broker
    _PRCTL = None


def _die_with_parent() -> None:
    """In the broker's process before it starts (Linux): SIGTERM when the process that started it dies, even by
    SIGKILL, so a killed demo leaves no broker behind."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class EmbeddedBroker:
    """``with EmbeddedBroker() as url: ...`` — a local broker for the duration of the block."""

    def __init__(self, prefer_mosquitto: bool = True, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.kind = "mosquitto" if prefer_mosquitto and (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()) else "amqtt"
        self._proc: subprocess.Popen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="smartcam-broker-")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        try:  # a port chosen by the caller may be taken, and a broker answering there would be someone else's
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", self.port))
        except OSError as exc:
            raise RuntimeError(f"port {self.port} on 127.0.0.1 is taken (a broker already running there?): {exc}") from exc
        if self.kind == "mosquitto":
            conf = Path(self._tmp.name) / "mosquitto.conf"
            # Queue without limit for the gateway's persistent session (the default of 1000 drops QoS 1 bursts).
            # Started as root, mosquitto would switch to its own user, and a change of user clears the death
            # signal below: keep the user it was started as.
            user = "user root\n" if os.geteuid() == 0 else ""
            conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 1000\n{user}")
            binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
            self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          preexec_fn=_die_with_parent)  # noqa: PLW1509 - one prctl call, nothing that locks
        else:
            self._start_amqtt()
        _wait_listening(self.port)
        logger.info("embedded %s broker on %s", self.kind, self.url)
        return self.url

    def _start_amqtt(self) -> None:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._broker = Broker(config, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, name="amqtt", daemon=True).start()
        ready.wait(15)

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
        if self._loop is not None:
            fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                fut.result(10)
            except Exception as e:  # noqa: BLE001 - shutting down: nothing left to protect
                logger.debug("amqtt shutdown: %s", e)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._tmp.cleanup()
