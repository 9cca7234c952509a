"""The qcchain domain model shared by the business chaincode and the application SDK.

Pure, deterministic definitions both sides must agree on byte for byte: the signed message formats
(``messages``), governance thresholds and unit states (``thresholds``), proposal bodies and operations
(``proposals``), data grades (``grades``), the record envelope (``envelope``), the GB 32100 unified
social credit code (``creditcode``). Imports nothing of the project but :mod:`qcchain_core`.
"""
