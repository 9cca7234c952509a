"""Contract lifecycle tooling (REQUIREMENTS T-9.2.2/T-9.2.4/T-9.2.6): scaffold a contract project, review its
source for chaincode hazards, package it as a Fabric ``ccaas`` package, and carry governance proposals
through offline SM2 signing to execution (:mod:`.proposalfile`, :mod:`.governed`)."""
