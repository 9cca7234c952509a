"""``qcchain ledger`` end to end on a stopped devnet: snapshot, list, verify, check, recover, archive, purge."""

from __future__ import annotations

import shutil
import sqlite3

from click.testing import CliRunner
from ledgerkit import puts
from qcchain_cli.main import cli


def _run(*args: str):
    return CliRunner().invoke(cli, ["ledger", *args], catch_exceptions=False)


def test_ledger_cli_cycle(make_net, tmp_path) -> None:
    node = make_net()
    node.start()
    node.submit(*puts("q", 2))
    d = str(node.state)
    res = _run("snapshot", "--dir", d, "--channel", "mychannel")
    assert res.exit_code == 0 and "snapshot of mychannel at height" in res.output
    node.submit(*puts("r", 2))
    node.stop()
    other = tmp_path / "other.sqlite"
    shutil.copyfile(node.state / "ledger" / "mychannel.sqlite", other)
    assert "verified" in _run("list", "--dir", d, "--channel", "mychannel").output
    assert _run("check", "--dir", d, "--channel", "mychannel").exit_code == 0

    conn = sqlite3.connect(node.state / "ledger" / "mychannel.sqlite")
    conn.execute("UPDATE state SET value=? WHERE ns='kv' AND key=?", (b"forged", b"r1"))
    conn.commit()
    conn.close()
    res = _run("check", "--dir", d, "--channel", "mychannel")
    assert res.exit_code == 1 and "ledger altered" in res.output and "kv/r1" in res.output
    res = _run("recover", "--dir", d, "--channel", "mychannel", "--blocks-from", str(other))
    assert res.exit_code == 0 and "state keys restored: kv/r1" in res.output, res.output
    assert _run("check", "--dir", d, "--channel", "mychannel").exit_code == 0

    res = _run("purge", "--dir", d, "--archive", str(tmp_path / "arch"))
    assert res.exit_code == 1 and "refusing to remove" in res.output and node.state.exists()
    assert _run("archive", "--dir", d, "--channel", "mychannel", "--archive", str(tmp_path / "arch")).exit_code == 0
    for ch in ("org23",):
        assert _run("archive", "--dir", d, "--channel", ch, "--archive", str(tmp_path / "arch")).exit_code == 0
    assert "verified" in _run("verify-archive", "--archive", str(tmp_path / "arch"), "--channel", "mychannel").output
    res = _run("purge", "--dir", d, "--archive", str(tmp_path / "arch"))
    assert res.exit_code == 0 and not node.state.exists()


def test_ledger_cli_one_line_errors(tmp_path) -> None:
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    res = _run("verify", str(bogus))
    assert res.exit_code == 1 and res.output.count("\n") == 1 and "no readable manifest.json" in res.output
    res = _run("purge", "--dir", str(tmp_path), "--force")
    assert res.exit_code == 1 and "--force needs --reason" in res.output
