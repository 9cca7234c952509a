"""Cross-chain certificates (T-9.2.3), SDK side: export a proof bundle of a record from a Gateway
connection (:mod:`.bundle`; an ingested record with its batch inclusion proof, :mod:`.ingested`), derive a
source network's trust-anchor document from its config block (:mod:`.anchors`), and drive the ``crosschain`` contract with SM2-signed source proposals (:mod:`.client`).
Offline verification uses the chaincode's own pure verifier (``qcchain_contracts.bundleverify``) and lives in
the CLI, the layer allowed to import both."""

from .anchors import source_document
from .bundle import BundleError, export_bundle
from .client import CrossChainClient, source_proposal
from .ingested import export_ingested_bundle

__all__ = ["BundleError", "CrossChainClient", "export_bundle", "export_ingested_bundle", "source_document",
           "source_proposal"]
