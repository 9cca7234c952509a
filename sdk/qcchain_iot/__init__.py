"""IoT telemetry, detection and early warnings (issue 15; seed 002, REQUIREMENTS I-1, H-4).

Devices publish readings over MQTT (TLS, per-device credentials: :mod:`.credentials`) to the embedded
broker (:mod:`.embedded`: our own asyncio broker :mod:`.mqttbroker` with durable sessions) or Mosquitto
(:mod:`.mosquitto`); the :mod:`.consumer` (QoS 1, persistent
session, acknowledgement after commit) feeds the :mod:`.pipeline`: validation (:mod:`.reading`, policy
:mod:`.policy` from ``policies/warnings.yaml``), the time-series store (:mod:`.store`, SQLite/PostgreSQL),
detection (:mod:`.detector`, :mod:`.trend`); :mod:`.windows` seals SM3 Merkle windows and proves readings
against anchored roots; :mod:`.simulate` is the device fleet.
"""
