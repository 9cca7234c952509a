"""A telemetry consumer in its own process, for crash tests: ``python consumer_proc.py HOST PORT CA DB CRED``
(the consumer's password in ``QC_CONSUMER_PW``). Prints ``connected`` once subscribed, then consumes in
small batches until killed."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import yaml

from qcchain_iot.consumer import BrokerAddress, Consumer
from qcchain_iot.credentials import CredentialStore
from qcchain_iot.pipeline import Pipeline
from qcchain_iot.policy import parse_policy
from qcchain_iot.store import open_store, sqlite_url

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    host, port, ca, db, cred = sys.argv[1:6]
    policy = parse_policy(yaml.safe_load((ROOT / "policies" / "warnings.yaml").read_text()))
    pipe = Pipeline(open_store(sqlite_url(db)), policy, CredentialStore(cred).active_devices())
    consumer = Consumer(pipe, BrokerAddress(host, int(port), ca), "consumer1", os.environ["QC_CONSUMER_PW"],
                        batch_max=25)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    if not consumer._connected.wait(15):      # noqa: SLF001 - test helper
        sys.exit(2)
    print("connected", flush=True)
    thread.join()


if __name__ == "__main__":
    main()
