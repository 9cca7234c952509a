"""The qcchain application SDK: typed clients of the qcchain contracts on top of :mod:`qcchain_gateway`.

- :mod:`qcchain_sdk.contracts` — governance, grading, records, sharing and audit clients, and the story;
- :mod:`qcchain_sdk.lifecycle` — contract projects: scaffold, package, security review, governed proposals;
- :mod:`qcchain_sdk.nodes` — node records and node-registry proposals.

The Fabric Gateway client itself (connect, identities, keystore, profiles, events) is the separate library
:mod:`qcchain_gateway`.
"""
