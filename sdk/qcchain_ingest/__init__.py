"""The seed-001 HTTPS ingestion service (D-5.2.2, Appendix B; ARCHITECTURE decision 11).

Using units that run no Fabric organisation get an ``appid`` + ``AppSecret`` from the ingesting org,
fetch an ``access_token`` and push dual-prevention data (tables A.3-A.11) with ``syndata``. Each accepted
batch is validated against the shared schemas (:mod:`qcchain_model.tables`), anchored on chain in ONE
Fabric transaction by the ``ingest`` contract (per-record state + SM3 Merkle root), and answered with a
receipt signed by the ingesting org's SM2 key. The service's own state (credentials, token keys, batch
index, outbox) lives in SQLite or PostgreSQL (:mod:`.db`).

Modules: :mod:`.db` (state), :mod:`.credentials` (appid/secret, lock-out), :mod:`.tokens` (access tokens),
:mod:`.batch` (request validation, canonical leaves), :mod:`.sealing` (L3 SM4-GCM), :mod:`.anchor`
(Fabric transaction), :mod:`.receipt` (SM2 receipts), :mod:`.service` (the use cases), :mod:`.app`
(ASGI routes), :mod:`.tlsfiles` (self-signed certificate), :mod:`.blobs` (M-field store).
"""
