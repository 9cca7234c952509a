"""The bottom of the business-contract ladder: ledger records and their keys, read and written.

Store modules import only :mod:`qcchain_contracts.common`, :mod:`qcchain_contracts.errors`,
:mod:`qcchain_model` and each other (never a rule module nor a contract front). They check the shape
of what they store where that shape *is* the record (a member record, a node id), and decide nothing
about who may do what: that is the rules' job (the modules above them).

* :mod:`.members` — consortium members (``gov.member``) and the credit-code check;
* :mod:`.policies` — installed policy documents (``gov.policy``);
* :mod:`.keys` — SM2 key records (``gov.key``, ``gov.orgkey``);
* :mod:`.units` — lifecycle records of governed units (``gov.unit``);
* :mod:`.proposals` — governance proposals and used nonces (``gov.proposal``, ``gov.nonce``);
* :mod:`.nodes` — admitted orderer/peer nodes (``gov.node``, ``gov.nodecert``, genesis marker);
* :mod:`.records` — QC record metadata, indexes and signature replay guards (``rec``, ``rec.idx``, ``rec.sig``);
* :mod:`.grants` — sharing grants, wrapped keys, access log and access nonces (``shr.*``).
"""
