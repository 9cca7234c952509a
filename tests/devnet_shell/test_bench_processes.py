"""``qcchain_bench.txproc``: the transaction benchmark with its clients in worker processes, measured
against a real (temporary, in-process) devnet with the example chaincode."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from qcchain_devnet.daemon import UpOptions, running_devnet
from qcchain_bench.tx import PutWorkload, RecordsWorkload
from qcchain_bench.txproc import CLIENT_NICE, ProcessSetup, _split, lower_priority, profile_path, run_tx_bench_processes
from qcchain_bench.errors import BenchError
from qcchain_gateway.errors import EvaluateError, ProfileError, stage_error_type
from qcchain_gateway.profile import connect_profile

ENDORSERS = ("InspectionMSP", "RegulatorMSP")


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("bench") / "devnet"
    with running_devnet(UpOptions(state_dir=state, port=0, chaincode_module="qcchain_bench.example")):
        yield state / "connection-profiles" / "connection-inspection.json"


def _setup(profile: Path, user: str = "User1") -> ProcessSetup:
    return ProcessSetup(profile_path(profile), user, "inspection-channel", "qcchain", ENDORSERS)


def test_split_spreads_clients_evenly() -> None:
    assert _split(5, 2) == [3, 2]
    assert _split(64, 2) == [32, 32]
    assert sum(_split(7, 3)) == 7


def test_records_workload_pickles_without_its_admin() -> None:
    workload = RecordsWorkload()
    workload.admin = (object(), b"cert")
    copy = pickle.loads(pickle.dumps(workload))
    assert copy.admin is None and copy.run == workload.run
    assert copy.key.public_key().to_bytes() == workload.key.public_key().to_bytes()


def test_rejects_bad_arguments_before_starting_anything(tmp_path: Path) -> None:
    setup = ProcessSetup(str(tmp_path / "missing.json"), "User1", "ch", "cc")
    for kwargs in ({"concurrency": 0}, {"processes": 0}, {"evaluations": -1}):
        with pytest.raises(ValueError, match="need transactions"):
            run_tx_bench_processes(setup, 10, PutWorkload(), **kwargs)
    with pytest.raises(ValueError, match="need transactions"):
        run_tx_bench_processes(setup, 0, PutWorkload())
    for nice in (-1, 20):
        with pytest.raises(ValueError, match="client_nice must be 0..19"):
            run_tx_bench_processes(setup, 10, PutWorkload(), client_nice=nice)


def test_lower_priority_checks_its_range_and_reports_the_niceness(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in (-1, 20):
        with pytest.raises(ValueError, match="0..19"):
            lower_priority(bad)
    calls: list[int] = []
    monkeypatch.setattr("os.nice", lambda inc: calls.append(inc) or 7)
    assert lower_priority(5) == 7 and calls == [5]

    def refuse(inc: int) -> int:
        if inc:
            raise PermissionError("not allowed")
        return 3
    monkeypatch.setattr("os.nice", refuse)
    assert lower_priority(5) == 3  # refused: keeps running, at the niceness it has


def test_cli_default_niceness_is_the_library_default() -> None:
    from qcchain_cli.bench import tx

    option = next(p for p in tx.params if p.name == "client_nice")
    assert option.default == CLIENT_NICE


def test_unknown_user_is_named(profile: Path) -> None:
    with pytest.raises(ProfileError, match="Nobody"):
        run_tx_bench_processes(_setup(profile, "Nobody"), 4, PutWorkload(), concurrency=2, processes=2)


def test_every_transaction_commits_through_worker_processes(profile: Path) -> None:
    workload = PutWorkload()
    res = run_tx_bench_processes(_setup(profile), 40, workload, concurrency=4, processes=2, evaluations=5,
                                 singles=2, warmup=1, client_nice=3)
    assert (res.committed, res.failed, res.client_processes, res.concurrency) == (40, 0, 2, 4)
    assert res.client_nice == min(19, os.nice(0) + 3)  # the workers really ran at a lower priority than this process
    assert res.evaluations == 5 and res.tx_per_s > 0 and res.submit_latency_ms["p95"] > 0
    assert res.single_submit_latency_ms["p95"] > 0 and res.endorsing_organizations == list(ENDORSERS)
    assert set(res.cpu_ms_per_tx) == {"clients", "bench_process", "bench_process_children"}
    assert res.cpu_ms_per_tx["clients"] > 0
    with connect_profile(profile, user="User1") as gateway:  # the writes really are on the ledger
        contract = gateway.get_network("inspection-channel").get_contract("qcchain")
        fn, args = workload.submit_call(39)
        assert contract.evaluate_transaction("get", args[0]) == args[1].encode()
    assert json.loads(json.dumps(res.to_dict()))["client_processes"] == 2


class _ProbeContract:
    """Answers the put workload's probe evaluate with a given gateway error (or a value)."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def evaluate_transaction(self, fn: str, *args: str) -> bytes:
        self.calls.append((fn, args))
        if self.error is not None:
            raise self.error
        return b"v"


def _evaluate_error(message: str, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN) -> EvaluateError:
    # the type the Gateway client picks for this answer (EvaluateNotFoundError for a 404)
    return stage_error_type(EvaluateError, message, [])(message, code)


def test_put_workload_setup_accepts_a_404_for_its_probe_key() -> None:
    workload = PutWorkload()
    contract = _ProbeContract(_evaluate_error("evaluate call to endorser returned error: chaincode response 404, "
                                              "key bench-x-probe not found"))
    workload.setup(contract)
    assert contract.calls == [("get", (f"bench-{workload.run}-probe",))]


def test_put_workload_setup_names_a_chaincode_without_its_functions() -> None:
    contract = _ProbeContract(_evaluate_error("evaluate call to endorser returned error: chaincode response 400, "
                                              "function 'get' is not defined in contract 'governance'"))
    with pytest.raises(BenchError, match=r"needs a chaincode with put\(key, value\).*--workload records"):
        PutWorkload().setup(contract)
    with pytest.raises(BenchError, match="unexpectedly exists"):
        PutWorkload().setup(_ProbeContract(None))
    unreachable = _evaluate_error("failed to connect", grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(EvaluateError, match="failed to connect"):
        PutWorkload().setup(_ProbeContract(unreachable))


def test_bench_against_the_qcchain_contracts_with_the_put_workload_fails_before_measuring(tmp_path: Path) -> None:
    state = tmp_path / "devnet"
    with running_devnet(UpOptions(state_dir=state, port=0, chaincode_module="qcchain_contracts")):
        profile = state / "connection-profiles" / "connection-inspection.json"
        with pytest.raises(BenchError, match="--workload records"):
            run_tx_bench_processes(_setup(profile), 10, PutWorkload(), concurrency=2)
