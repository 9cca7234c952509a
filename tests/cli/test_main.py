"""The CLI shell: help, version, one-line errors."""

import pytest
from click.testing import CliRunner

from qcchain_cli.main import cli, main


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "qcchain" in result.output


def test_unknown_command_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert "no-such-command" in err
    assert "Traceback" not in err
