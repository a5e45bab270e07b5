"""Locust suites for payments-sandbox: `checkout` (drive a payment service) and
`providers` (speak the provider APIs directly), load shapes, SLO gates and reports.

This package never imports the simulator's modules (gevent must not share a process with
asyncio): it talks to the simulator over HTTP only. `make lint` checks it (lint-imports).
"""
