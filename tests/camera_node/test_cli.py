"""`smartcam node ...` and `smartcam demo`: help, errors, and the demo's fallback without data."""

import pytest

from smartcam.cli import main


@pytest.mark.parametrize("argv", [["node"], ["node", "simulate"], ["node", "run"], ["node", "scenario"], ["demo"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0 and "usage:" in capsys.readouterr().out


def test_scenario_rejects_a_bad_size(tmp_path, capsys):
    assert main(["node", "scenario", "--mot", str(tmp_path), "--size", "big", "--out", str(tmp_path / "o")]) == 1
    assert "--size" in capsys.readouterr().err


def test_run_without_a_source_fails_clearly(tmp_path, capsys):
    assert main(["node", "run", "--out", str(tmp_path)]) == 1
    assert "no source" in capsys.readouterr().err
