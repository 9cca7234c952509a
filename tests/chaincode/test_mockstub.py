"""Contract layer and MockStub: routing, typed params, hooks, metadata, identity, key rules."""

from __future__ import annotations

import json

import pytest
from certs import make_cert

from qcchain_shim import ChaincodeError, Context, Contract, InvalidKeyError, Response, transaction
from qcchain_shim.testing import MockStub


class Records(Contract):
    name = "records"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def before_transaction(self, ctx: Context) -> None:
        self.calls.append("before")

    def after_transaction(self, ctx: Context, result: object) -> None:
        self.calls.append("after")

    @transaction
    def create(self, ctx: Context, record_id: str, payload: dict, count: int = 1) -> dict:
        if ctx.stub.get_state(record_id):
            raise ChaincodeError(f"record {record_id} exists", status=409)
        ctx.stub.put_state(record_id, json.dumps(payload).encode())
        ctx.stub.set_event("Created", record_id.encode())
        return {"id": record_id, "count": count}

    @transaction(evaluate=True)
    def get(self, ctx: Context, record_id: str) -> bytes:
        return ctx.stub.get_state(record_id)

    @transaction
    def fail_after_write(self, ctx: Context, key: str) -> None:
        ctx.stub.put_state(key, b"x")
        raise ValueError("boom")

    @transaction(evaluate=True)
    def whoami(self, ctx: Context) -> dict:
        ci = ctx.client_identity
        return {"msp": ci.msp_id, "id": ci.id, "role": ci.get_attribute("role")}

    @transaction(evaluate=True)
    def typed(self, ctx: Context, f: float, b: bool, items: list, raw: bytes) -> list:
        return [f, b, items, raw.hex()]


class Other(Contract):
    name = "other"

    @transaction
    def ping(self, ctx: Context) -> str:
        return "pong"


def test_routing_default_and_named() -> None:
    mock, contracts = MockStub(), [Records(), Other()]
    assert mock.submit(contracts, "create", ["r1", '{"a":1}']).payload == b'{"count":1,"id":"r1"}'
    assert mock.invoke(contracts, "records:get", ["r1"]).payload == b'{"a": 1}'
    assert mock.invoke(contracts, "other:ping").payload == b"pong"
    assert mock.invoke(contracts, "nope:ping").status == 400
    assert contracts[0].calls == ["before", "after", "before", "after"]


def test_reads_see_committed_state_only_and_failures_write_nothing() -> None:
    mock, contracts = MockStub(), [Records()]
    first = mock.invoke(contracts, "create", ["r1", "{}"])
    assert first.ok and mock.get_state("r1") == b""  # pending until commit
    mock.commit()
    assert mock.get_state("r1") == b"{}"
    assert mock.submit(contracts, "create", ["r1", "{}"]) == Response(409, "record r1 exists")
    bad = mock.submit(contracts, "fail_after_write", ["k"])
    assert bad.status == 500 and "ValueError: boom" in bad.message
    assert mock.get_state("k") == b"" and mock.pending == {}
    assert [e[1:] for e in mock.events] == [("Created", b"r1")]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["r1"], "expects 2 to 3 arguments, got 1"),
        (["r1", "{}", "1", "2"], "got 4"),
        (["r1", "[]"], "parameter 'payload': expected a JSON object"),
        (["r1", "{bad"], "parameter 'payload': invalid JSON"),
        (["r1", "{}", "1.5"], "parameter 'count': expected an integer"),
        ([b"\xff\xfe", "{}"], "parameter 'record_id': invalid UTF-8"),
    ],
)
def test_bad_arguments_name_the_problem(args: list, needle: str) -> None:
    mock = MockStub()
    response = mock.submit([Records()], "create", args)
    assert response.status == 400 and needle in response.message
    assert mock.state == {"": {}}


def test_typed_parameters() -> None:
    out = MockStub().invoke([Records()], "typed", ["2.5", "true", "[1,2]", b"\x00\x01"])
    assert json.loads(out.payload) == [2.5, True, [1, 2], "0001"]
    assert "expected true or false" in MockStub().invoke([Records()], "typed", ["1", "yes", "[]", b""]).message


def test_unknown_function_and_empty_args() -> None:
    mock = MockStub()
    assert "function 'nope' is not defined in contract 'records'" in mock.invoke([Records()], "nope").message
    mock._args = []
    from qcchain_shim import Router

    assert Router([Records()]).invoke(mock).status == 400


def test_oversized_arguments_refused() -> None:
    from qcchain_shim.contract import MAX_ARGS_BYTES

    response = MockStub().invoke([Records()], "create", ["r", "{}", b"1" * (MAX_ARGS_BYTES + 1)])
    assert response.status == 400 and "arguments too large" in response.message


def test_metadata() -> None:
    response = MockStub().invoke([Records(), Other()], "org.hyperledger.fabric:GetMetadata")
    meta = json.loads(response.payload)
    create = next(t for t in meta["contracts"]["records"]["transactions"] if t["name"] == "create")
    assert create["tag"][0] == "SUBMIT"
    assert [p["name"] for p in create["parameters"]] == ["record_id", "payload", "count"]
    assert create["parameters"][1]["schema"] == {"type": "object"}
    get = next(t for t in meta["contracts"]["records"]["transactions"] if t["name"] == "get")
    assert get["tag"][0] == "EVALUATE"
    assert meta["contracts"]["records"]["default"] is True and "default" not in meta["contracts"]["other"]


def test_client_identity_and_attributes() -> None:
    cert = make_cert("alice", {"role": "inspector"})
    out = MockStub().invoke([Records()], "whoami", creator=("Org1MSP", cert))
    data = json.loads(out.payload)
    assert data["msp"] == "Org1MSP" and data["role"] == "inspector"
    assert data["id"] == "x509::CN=alice,O=Org1::CN=ca.org1"
    assert MockStub().invoke([Records()], "whoami", creator=b"\xff garbage").status == 400
    no_attrs = json.loads(MockStub().invoke([Records()], "whoami", creator=("Org1MSP", make_cert())).payload)
    assert no_attrs["role"] is None


def test_assert_attribute_value() -> None:
    from qcchain_shim.identity import ClientIdentity
    from qcchain_shim.testing import serialize_identity

    ci = ClientIdentity(serialize_identity("M", make_cert(attrs={"role": "a"})))
    ci.assert_attribute_value("role", "a")
    with pytest.raises(ChaincodeError, match="required value"):
        ci.assert_attribute_value("role", "b")
    with pytest.raises(ChaincodeError, match="not found"):
        ci.assert_attribute_value("dept", "b")


def test_key_rules() -> None:
    mock = MockStub()
    with pytest.raises(InvalidKeyError, match="empty"):
        mock.put_state("", b"v")
    with pytest.raises(InvalidKeyError, match="null character"):
        mock.get_state_by_range("\x00a", "")
    ck = mock.create_composite_key("rec", ["a", "b"])
    assert ck == "\x00rec\x00a\x00b\x00"
    assert mock.split_composite_key(ck) == ("rec", ["a", "b"])
    for bad in ("a\x00", "\U0010ffff"):
        with pytest.raises(InvalidKeyError, match="U\\+"):
            mock.create_composite_key("rec", [bad])
    mock.put_state(ck, b"1")
    mock.put_state("plain", b"2")
    mock.put_state(mock.create_composite_key("rec", ["c"]), b"3")
    mock.put_state(mock.create_composite_key("zzz", ["a"]), b"4")
    mock.commit()
    assert [kv.key for kv in mock.get_state_by_range("", "")] == ["plain"]  # open range starts at \x01
    assert [kv.value for kv in mock.get_state_by_partial_composite_key("rec", [])] == [b"1", b"3"]
    assert [kv.value for kv in mock.get_state_by_partial_composite_key("rec", ["a"])] == [b"1"]


def test_pagination_history_private_data_and_metadata() -> None:
    mock = MockStub()
    for i in range(5):
        mock.put_state(f"k{i}", str(i).encode())
    mock.commit()
    it, meta = mock.get_state_by_range_with_pagination("", "", 2)
    assert [kv.key for kv in it] == ["k0", "k1"] and meta.fetched_records_count == 2 and meta.bookmark == "k2"
    it, meta = mock.get_state_by_range_with_pagination("", "", 2, meta.bookmark)
    assert [kv.key for kv in it] == ["k2", "k3"]
    mock.del_state("k0")
    mock.commit()
    history = list(mock.get_history_for_key("k0"))
    assert [h.is_delete for h in history] == [True, False]
    mock.put_private_data("c1", "p", b"secret")
    mock.set_state_validation_parameter("k1", b"ep")
    mock.commit()
    assert mock.get_private_data("c1", "p") == b"secret" and len(mock.get_private_data_hash("c1", "p")) == 32
    assert mock.get_state_validation_parameter("k1") == b"ep"
    with pytest.raises(ValueError, match="collection"):
        mock.get_private_data("", "p")


def test_transient_and_invoke_chaincode() -> None:
    class T(Contract):
        @transaction
        def run(self, ctx: Context) -> dict:
            other = ctx.stub.invoke_chaincode("cc2", [b"fn"], "ch2")
            return {"t": ctx.stub.get_transient()["secret"].decode(), "other": other.payload.decode()}

    mock = MockStub()
    mock.register_chaincode("cc2/ch2", lambda args: Response(200, "", b"hi " + args[0]))
    out = mock.invoke([T()], "run", transient={"secret": b"s3"})
    assert json.loads(out.payload) == {"t": "s3", "other": "hi fn"}
