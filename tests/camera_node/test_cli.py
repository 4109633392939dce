"""`smartcam node ...` and `smartcam demo`: help, errors, a clean stop, and the demo's fallback without data."""
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict

import pytest

from camera_node.scenario import NIGHT
from smartcam.cli import main
from tests.camera_node.test_publisher import Collector
from tests.camera_node.test_scenario import synthetic_sequence


@pytest.mark.parametrize("argv", [["node"], ["node", "simulate"], ["node", "run"], ["node", "scenario"], ["demo"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0 and "usage:" in capsys.readouterr().out


def test_scenario_rejects_a_bad_size(tmp_path, capsys):
    assert main(["node", "scenario", "--mot", str(tmp_path), "--size", "big", "--out", str(tmp_path / "o")]) == 1
    assert "--size" in capsys.readouterr().err


def test_scenario_builds_the_scene_as_a_camera_at_night_sees_it(tmp_path):
    seq, _ = synthetic_sequence(tmp_path)
    out = tmp_path / "night"
    assert main(["node", "scenario", "--mot", str(seq), "--empty-seconds", "1", "--look", "night", "--out", str(out)]) == 0
    assert json.loads((out / "scenario.json").read_text())["look"] == asdict(NIGHT)


def test_run_without_a_source_fails_clearly(tmp_path, capsys):
    assert main(["node", "run", "--out", str(tmp_path)]) == 1
    assert "no source" in capsys.readouterr().err


def test_run_stops_cleanly_on_sigterm(tmp_path, moving_video):
    """A service stop while the live stream is up: the node finishes (clips, ledger) and exits 0."""
    proc = subprocess.Popen([sys.executable, "-m", "smartcam", "node", "run", "--source", f"file://{moving_video}",
                             "--out", str(tmp_path / "node")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not any("reopening" in line for line in err) and time.monotonic() < deadline:
        time.sleep(0.1)  # the 24-frame clip has played live and the "stream" dropped: it is being reopened
    proc.send_signal(signal.SIGTERM)
    out = proc.stdout.read()
    assert proc.wait(timeout=30) == 0, "".join(err)[-2000:]
    assert json.loads(out.strip().splitlines()[-1])["frames"] >= 24


def test_a_stop_while_the_node_is_starting_up_is_a_clean_stop(tmp_path, moving_video, broker_url):
    """SIGTERM right after the node said 'online' (its model and arena still being set up): it exits 0 and says
    'stopped', as a service stop any later does, rather than dying on the signal (the broker would then tell
    everyone the camera vanished: 'offline')."""
    prefix, camera = f"t{uuid.uuid4().hex[:8]}", "startup"
    config = tmp_path / "node.yaml"
    config.write_text(f"camera_id: {camera}\nmqtt:\n  prefix: {prefix}\n")
    watcher = Collector(broker_url, f"{prefix}/{camera}/availability")

    def said(messages):
        return [payload.decode() for _, payload, _ in messages]

    try:
        proc = subprocess.Popen([sys.executable, "-m", "smartcam", "node", "run", "--config", str(config),
                                 "--source", f"file://{moving_video}", "--broker", broker_url,
                                 "--out", str(tmp_path / "node")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert watcher.wait_for(lambda m: "online" in said(m), timeout=60), "the node never said 'online'"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        watcher.wait_for(lambda m: said(m)[-1] == "stopped", timeout=10)
        assert said(watcher.messages)[-1] == "stopped" and "offline" not in said(watcher.messages)
    finally:
        watcher.close()


def test_simulate_on_a_file_that_ends_early_says_both_counts_and_fails_unless_allowed(tmp_path, capsys):
    import numpy as np

    from tests.conftest import write_avi

    rng = np.random.default_rng(1)
    video = write_avi(tmp_path / "cut.avi", [rng.integers(0, 255, (120, 160), dtype=np.uint8) for _ in range(60)])
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 3])  # a recording cut off a third of the way in (the header still says 60)
    argv = ["node", "simulate", "--source", str(video), "--out", str(tmp_path / "sim"), "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "of the 60 frames it states" in err and "--allow-truncated" in err
    assert main([*argv, "--allow-truncated"]) == 0
