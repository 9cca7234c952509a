"""qcchain_core: code shared by the chaincode and the SDK (GM cryptography, canonical JSON).

Nothing here does I/O at import time or configures logging.
"""
