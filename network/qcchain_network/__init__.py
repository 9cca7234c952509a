"""The consortium model of a qcchain Fabric network: validate -> derive -> render.

``qcchain_consortium.consortium.load_consortium`` reads and validates ``network/consortium.yaml``;
``qcchain_network.derive`` computes every name, port and path (pure); ``qcchain_network.render`` writes
the files a real Hyperledger Fabric v3.1 network needs.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
