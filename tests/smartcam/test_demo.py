"""`smartcam demo`: broker + gateway + nodes + report with nothing installed beforehand."""
import json

import pytest

from smartcam.cli import main
from smartcam.demo import run_demo
from tests.conftest import DATA


@pytest.mark.parametrize("prefer_mosquitto", [False, True], ids=["amqtt-in-process", "mosquitto-if-installed"])
def test_demo_without_data_runs_end_to_end(tmp_path, prefer_mosquitto):
    summary = run_demo(tmp_path / "no-data", tmp_path / "demo", prefer_mosquitto=prefer_mosquitto)
    assert summary["report"].exists() and summary["rejected"] == 0
    assert summary["total"]["continuous_bytes"] > 0  # the node's ledger reached the gateway
    assert summary["events_stored"] == summary["events_sent"]
    doc = json.loads((tmp_path / "demo" / "report" / "report.json").read_text())
    assert set(doc["detection"]) == {"synthetic"}


def test_running_the_demo_again_starts_from_an_empty_store(tmp_path):
    first = run_demo(tmp_path / "no-data", tmp_path / "demo")
    again = run_demo(tmp_path / "no-data", tmp_path / "demo")
    assert again["total"]["frames"] == first["total"]["frames"] > 0  # not the two runs added up


def test_demo_command_prints_the_report_path(tmp_path, capsys):
    assert main(["demo", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "d")]) == 0
    assert "report:" in capsys.readouterr().out


def test_demo_on_the_shared_footage(tmp_path):
    if not (DATA / "mot15").exists():
        pytest.skip(f"needs shared data at {DATA / 'mot15'} (set SMARTCAM_DATA)")
    summary = run_demo(DATA, tmp_path / "demo")
    assert summary["events_stored"] == summary["events_sent"] > 0
    for camera, metrics in summary["truth"].items():
        node = metrics["recorders"]["node"]
        assert node["events_caught"] == node["person_intervals"], camera
        # known defect: the campus scenario includes the overhead-traffic clip, where white car roofs score as people
        assert node["false_alerts"] <= (1 if camera == "campus" else 0), camera
    assert summary["total"]["sd_card"]["saved_percent"] > 50 and summary["total"]["wifi"]["saved_percent"] > 99


def test_a_killed_demo_takes_its_broker_down_with_it(tmp_path):
    """SIGKILL leaves no cleanup to run: the broker must die with the process that started it."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    if not (shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto")):
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    script = ("import time\nfrom smartcam.broker import EmbeddedBroker\nb = EmbeddedBroker()\nb.__enter__()\n"
              "print(b._proc.pid, flush=True)\ntime.sleep(120)\n")
    demo = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    broker_pid = int(demo.stdout.readline())
    demo.send_signal(signal.SIGKILL)
    demo.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running(broker_pid):
        time.sleep(0.1)
    assert not _running(broker_pid)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_terminated_demo_stops_its_broker_and_gateway_and_leaves_no_process(tmp_path, sig):
    import signal
    import subprocess
    import sys

    import psutil

    # as from a terminal: a test run started in the background (CI under nohup, `cmd &`) would pass SIGINT on ignored,
    # and a Python started with SIGINT ignored keeps ignoring it (an exec resets a handled signal, not an ignored one)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        demo = subprocess.Popen([sys.executable, "-m", "smartcam", "demo", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "d")],
                                stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        for line in demo.stderr:  # wait until the broker and the gateway run
            if "[3/4]" in line:
                break
        children = psutil.Process(demo.pid).children(recursive=True)
        demo.send_signal(getattr(signal, sig))
        assert demo.wait(30) == 130
        rest = demo.stderr.read()
        assert "gateway and broker stopped" in rest and "Traceback" not in rest
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    finally:
        if demo.poll() is None:
            demo.kill()


def test_broker_run_serves_until_terminated_and_refuses_a_taken_port(tmp_path):
    import signal
    import subprocess
    import sys

    from tests.camera_node.test_publisher import Collector
    from tests.conftest import _client, free_port

    port = free_port()
    broker = subprocess.Popen([sys.executable, "-m", "smartcam", "broker", "run", "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert f"broker on mqtt://127.0.0.1:{port}" in broker.stdout.readline()
        url = f"mqtt://127.0.0.1:{port}"
        collector = Collector(url, "smartcam/#")
        client = _client(url)
        client.loop_start()
        client.publish("smartcam/cam1/events", b"hello", qos=1).wait_for_publish(5)
        assert collector.wait_for(lambda msgs: [(t, p) for t, p, _ in msgs] == [("smartcam/cam1/events", b"hello")], 10)
        client.loop_stop()
        taken = subprocess.run([sys.executable, "-m", "smartcam", "broker", "run", "--port", str(port)], capture_output=True, text=True,
                               timeout=60, check=False)
        assert taken.returncode == 1 and "is taken" in taken.stderr
        broker.send_signal(signal.SIGTERM)
        assert broker.wait(20) == 0
    finally:
        if broker.poll() is None:
            broker.kill()
