"""Demonstrations on a real Fabric network: tools-level runners of the application's flows.

:mod:`qcchain_network.demo.storyrunner` runs the consortium story (``qcchain_sdk.contracts.story``) on a
native Fabric network brought up by :mod:`qcchain_network.runner` (``qcchain demo --fabric``, the
scenario suite's Fabric runtime).
"""
