"""Typed clients of the qcchain contracts (governance, records, audit, grading, sharing) over any
``ContractLike`` (``evaluate_transaction`` / ``submit_transaction``): a Gateway ``Contract`` or a test double."""
