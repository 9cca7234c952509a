"""Contract projects (REQUIREMENTS T-9.2.2/T-9.2.4): scaffold a contract project (:mod:`.scaffold`), review
its source for chaincode hazards (:mod:`.review`) and package it as a Fabric ``ccaas`` package
(:mod:`.package`). Carrying a package through governance is :mod:`qcchain_sdk.proposals`."""
