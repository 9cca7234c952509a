"""The qcchain application SDK: typed clients of the qcchain contracts on top of :mod:`qcchain_gateway`.

- :mod:`qcchain_sdk.contracts` — governance, grading, records, sharing and audit clients, and the story;
- :mod:`qcchain_sdk.contractproject` — contract projects: scaffold, security review, package;
- :mod:`qcchain_sdk.proposals` — governance proposals: body, offline-signed proposal files, pre-check and execution;
- :mod:`qcchain_sdk.actions` — business steps shared by the CLI, the console and the ingestion server;
- :mod:`qcchain_sdk.contractlike` — the ``ContractLike`` / ``Evaluator`` protocol the clients take;
- :mod:`qcchain_sdk.nodeadmission` — node records and node-registry proposals.

The Fabric Gateway client itself (connect, identities, keystore, profiles, events) is the separate library
:mod:`qcchain_gateway`.
"""
