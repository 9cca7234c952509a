"""``qcchain agent`` commands that need no ingestion server: init, check, status; a broken mapping is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from agentfake import FakeIngest
from agentkit import create_source, mapping_doc, write_mapping
from qcchain_cli.agent import agent


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path}/src.db"
    engine = sa.create_engine(url)
    create_source(engine)
    engine.dispose()
    monkeypatch.setenv("AGENT_TEST_SECRET", "s3cret")
    return tmp_path, url


def test_init_writes_a_mapping_that_names_the_tables(setup) -> None:
    tmp_path, url = setup
    out = tmp_path / "new.yaml"
    result = CliRunner().invoke(agent, ["init", "--source", url, "--server", "https://x:8443", "--appid", "A1",
                                        "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "# table staff: key emp_no; columns emp_no, name, idno" in text and "psnName: {column: TODO}" in text
    assert CliRunner().invoke(agent, ["init", "--source", url, "--server", "https://x", "--appid", "A",
                                      "-o", str(out)]).exit_code != 0  # no overwrite without --force


def test_check_accepts_a_good_mapping_and_names_every_bad_column(setup) -> None:
    tmp_path, url = setup
    path = write_mapping(tmp_path / "a", mapping_doc(url), FakeIngest())
    result = CliRunner().invoke(agent, ["check", str(path)])
    assert result.exit_code == 0 and "ok (3 txcodes: 01, 02, 03)" in result.output
    doc = mapping_doc(url)
    doc["txcodes"]["01"]["fields"]["deputy"]["column"] = "bos"
    doc["txcodes"]["02"]["table"] = "depts"
    path = write_mapping(tmp_path / "b", doc, FakeIngest())
    result = CliRunner().invoke(agent, ["check", str(path)])
    assert result.exit_code == 1
    assert "txcodes.01.fields.deputy.column: no column bos in the source" in result.output
    assert "txcodes.02.table: no table depts" in result.output


def test_broken_mapping_is_refused_before_anything_is_sent(setup) -> None:
    tmp_path, url = setup
    doc = mapping_doc(url)
    doc["txcodes"]["03"]["fields"]["isOpr"] = {"column": "opr", "date_formats": ["%Y"]}
    doc["server"]["url"] = "https://127.0.0.1:1"  # nothing listens: a send attempt would show up as an error
    del doc["server"]["secret_env"]
    path = write_mapping(tmp_path / "c", doc, FakeIngest())
    result = CliRunner().invoke(agent, ["run", "--once", str(path)])
    assert result.exit_code == 1
    assert "txcodes.03.fields.isOpr.date_formats: isOpr is not a date (D) field" in result.output
    assert "server: give exactly one of secret_env or secret_file" in result.output
    assert not (tmp_path / "c" / "state").exists()


def test_status_of_a_fresh_agent_lists_every_txcode_overdue(setup) -> None:
    tmp_path, url = setup
    path = write_mapping(tmp_path / "d", mapping_doc(url), FakeIngest())
    result = CliRunner().invoke(agent, ["status", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.count("OVERDUE") == 3
