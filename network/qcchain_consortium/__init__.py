"""The consortium model: the one declarative consortium file, read and validated with every problem at once.

``load_consortium`` (:mod:`.consortium`) reads ``network/consortium.yaml`` and the policy files it names,
checks them against their JSON Schemas and cross-references (:mod:`.sources`), parses Fabric
signature-policy strings (:mod:`.policy`) and plans ports (:mod:`.ports`). Both runtimes build on it: the
embedded devnet and the real-Fabric generator :mod:`qcchain_network` (derive -> render).
"""
