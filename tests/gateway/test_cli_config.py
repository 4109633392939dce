"""`smartcam gateway ...` and its config."""
import pytest

from gateway.cli import parse_since
from gateway.config import ConfigError, load_gateway_config
from smartcam.cli import main
from tests.gateway.test_store_ingest import stats


@pytest.mark.parametrize("argv", [["gateway"], ["gateway", "run"], ["gateway", "report"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0 and "usage:" in capsys.readouterr().out


def test_since_accepts_ages_dates_and_seconds():
    assert parse_since("7d", now=1_000_000.0) == 1_000_000.0 - 7 * 86400
    assert parse_since("12h", now=100_000.0) == 100_000.0 - 12 * 3600
    assert parse_since("1795000000") == 1795000000.0
    assert parse_since("2026-11-01T00:00:00+00:00") == 1793491200.0
    with pytest.raises(ConfigError, match="--since"):
        parse_since("last tuesday")


def test_config_rejects_unknown_keys(tmp_path):
    bad = tmp_path / "gw.yaml"
    bad.write_text("retention: {dayz: 3}\n")
    with pytest.raises(ConfigError, match="dayz"):
        load_gateway_config(bad)


def test_report_command_on_a_store(tmp_path, capsys):
    from gateway.config import LimitsConfig
    from gateway.ingest import Ingestor
    from gateway.media import MediaStore
    from gateway.store import Store

    dsn = f"sqlite:///{tmp_path}/gw.db"
    Ingestor(Store(dsn), MediaStore(tmp_path / "m"), "smartcam", LimitsConfig()).handle("smartcam/cam1/stats", stats(cont=10_000, clip=1000))
    assert main(["gateway", "report", "--dsn", dsn, "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "Wi-Fi 99.85% saved" in out and "SD card 90.0%" in out and (tmp_path / "r" / "report.html").exists()


def test_report_with_a_bad_dsn_fails(tmp_path, capsys):
    assert main(["gateway", "report", "--dsn", "oracle://nope", "--out", str(tmp_path)]) == 1
    assert "unsupported store" in capsys.readouterr().err


def test_the_example_config_loads():
    from pathlib import Path

    cfg = load_gateway_config(Path(__file__).resolve().parents[2] / "configs" / "gateway.yaml")
    assert cfg.mqtt.share_group == "gateways" and cfg.retention.camera_days == {"frontdoor": 90}


def test_gateway_run_without_an_api_token_exits_with_the_reason_before_it_connects(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SMARTCAM_API_TOKEN", raising=False)
    assert main(["gateway", "run", "--broker", "mqtt://127.0.0.1:9", "--dsn", f"sqlite:///{tmp_path}/gw.db", "--media", str(tmp_path / "m")]) == 1
    assert "SMARTCAM_API_TOKEN" in capsys.readouterr().err


def test_report_on_a_store_that_is_not_there_says_where_it_looked_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "gw.db"
    assert main(["gateway", "report", "--dsn", f"sqlite:///{missing}", "--out", str(tmp_path / "r")]) == 1
    assert str(missing) in capsys.readouterr().err and not missing.exists()


def test_report_on_an_empty_store_says_it_is_empty(tmp_path, capsys):
    from gateway.store import Store

    Store(f"sqlite:///{tmp_path}/gw.db").close()
    assert main(["gateway", "report", "--dsn", f"sqlite:///{tmp_path}/gw.db", "--out", str(tmp_path / "r")]) == 0
    assert "holds no events and no stats" in capsys.readouterr().err
