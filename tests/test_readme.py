"""Every command the README shows runs as written: each `--help`, and the local gateway for a few seconds."""
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from smartcam.cli import main
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def readme_commands() -> list[list[str]]:
    """The command lines of the README's bash blocks (comments and placeholders dropped)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.DOTALL):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(shlex.split(re.sub(r"\[.*?\]", "", line)))
    return lines


SMARTCAM = sorted({tuple(w for w in words[1:3] if not w.startswith("-")) for words in readme_commands() if words[0] == "smartcam"})
BENCH = sorted({words[1] for words in readme_commands() if words[0] == "python" and words[1].startswith("bench/")})


def test_the_readme_shows_commands_of_every_group():
    assert {c[0] for c in SMARTCAM} >= {"model", "node", "gateway", "broker", "demo"} and len(BENCH) >= 5


@pytest.mark.parametrize("command", SMARTCAM, ids=" ".join)
def test_each_readme_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0 and "usage: smartcam" in capsys.readouterr().out


@pytest.mark.parametrize("script", BENCH)
def test_each_readme_benchmark_has_help(script):
    run = subprocess.run([sys.executable, script, "--help"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "usage:" in run.stdout, run.stderr


def test_the_local_gateway_runs_as_the_readme_shows_it(tmp_path, broker_url):
    """`smartcam gateway run --config configs/gateway.local.yaml`: the example as written, only its broker URL and topic
    prefix moved to this test's (the machine's broker is shared; the fixture clears what it retains) and the port to a free one."""
    words = next(w for w in readme_commands() if w[:3] == ["smartcam", "gateway", "run"] and "configs/gateway.local.yaml" in w)
    local = yaml.safe_load((ROOT / words[words.index("--config") + 1]).read_text())
    assert local["mqtt"]["url"] == "mqtt://127.0.0.1:1883" and local["api"]["host"] == "127.0.0.1"
    prefix = f"readme{os.getpid()}"
    local["mqtt"].update(url=broker_url, prefix=prefix)
    local["api"]["port"] = port = free_port()
    config = tmp_path / "gateway.local.yaml"
    config.write_text(yaml.safe_dump(local))
    env = {k: v for k, v in os.environ.items() if k != "SMARTCAM_API_TOKEN"}
    gateway = subprocess.Popen([sys.executable, "-m", "smartcam", "gateway", "run", "--config", str(config)], cwd=tmp_path, env=env,
                               stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)
        assert gateway.poll() is None, gateway.stderr.read()
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(20) == 0
        log = gateway.stderr.read()
        assert f"HTTP API and page on http://127.0.0.1:{port}/" in log and "connected (MQTT" in log and "Traceback" not in log
        assert (tmp_path / "runs" / "gateway" / "smartcam.db").exists()  # where `gateway report` looks by default
    finally:
        if gateway.poll() is None:
            gateway.kill()
