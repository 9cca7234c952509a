"""``python -m qcchain_contracts`` / ``qcchain-chaincode``: serve every qcchain contract as CCaaS.

Environment (read here, once, and nowhere else): the CCaaS variables of :func:`qcchain_shim.server.config_from_env`
(``CHAINCODE_SERVER_ADDRESS``, ``CHAINCODE_ID``, TLS files), optionally ``QCCHAIN_CHAINCODE_NAME``
(default ``qcchain``) and ``QCCHAIN_GM_BACKEND`` (native SM2 library: ``openssl`` or ``tongsuo``). ``CHAINCODE_ID`` is Fabric's package id ``<label>:<hex sha256 of the package>``;
its digest is what governance approves per version (:mod:`qcchain_contracts.lifecycle`). An id of
another form (a development runtime's) disables the package check, with a warning.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from . import contract_classes
from .clock import configure_clock
from .errors import InvalidInput
from .lifecycle import DEFAULT_CHAINCODE, configure_running_package

log = logging.getLogger(__name__)


def main() -> None:
    """Configure the running package, then serve until SIGTERM/SIGINT; exit 2 on a configuration error.

    Process settings (gRPC, GC, transaction time slicing) are the shared ones of
    :mod:`qcchain_core.grpcenv` and :func:`qcchain_shim.serve`; the gRPC ones go first, before ``grpc`` loads.
    """
    from qcchain_core.grpcenv import apply_grpc_tuning

    apply_grpc_tuning()
    from qcchain_core.gm import set_backend
    from qcchain_core.logconfig import configure
    from qcchain_shim import serve
    from qcchain_shim.errors import ConfigError
    from qcchain_shim.server import config_from_env

    configure(os.environ.get("QCCHAIN_LOG_DIR") or None, process="chaincode", level=os.environ.get("QCCHAIN_LOG_LEVEL", "INFO"))
    try:
        config = config_from_env()
        set_backend(os.environ.get("QCCHAIN_GM_BACKEND"))
    except (ConfigError, OSError) as exc:
        print(f"qcchain-chaincode: {exc}", file=sys.stderr)
        sys.exit(2)
    name = os.environ.get("QCCHAIN_CHAINCODE_NAME", DEFAULT_CHAINCODE)
    try:
        running = configure_running_package(config.chaincode_id, name)
    except InvalidInput:
        log.warning("CHAINCODE_ID is not '<label>:<sha256>'; the approved-package check is disabled")
        running = None
    if running is not None:
        log.info("serving package %s (chaincode %s)", running.label, name)
    configure_clock(time.time)  # the one clock read: refuse backdated proposals (qcchain_contracts.clock)
    serve([cls() for cls in contract_classes()], config)


if __name__ == "__main__":
    main()
