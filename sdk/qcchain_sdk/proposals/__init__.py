"""Governance proposals (REQUIREMENTS T-9.2.6, T-7.2.3): the proposal body (:mod:`.body`), proposal files
signed offline by org admins (:mod:`.proposalfile`) and their pre-check and execution against the chain
(:mod:`.governed`) — for contract deploy/upgrade/freeze/thaw/destroy, policy updates, members and nodes."""
