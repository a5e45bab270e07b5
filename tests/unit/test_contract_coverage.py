"""Every provider arrives with its contracts: each route has a request and a response
schema in its manifest, each event type it emits a payload schema, and every schema the
manifests name exists and compiles."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from aiohttp import web

from paysandbox import contracts
from paysandbox.providers import base

PROVIDERS = sorted(base.available())


def routes_of(provider: Any) -> dict[str, tuple[str, str]]:
    app = web.Application()
    app.add_routes(web.route(r.method, r.path, r.handler, name=r.name)
                   for r in provider.routes())
    found: dict[str, tuple[str, str]] = {}
    for r in app.router.routes():
        if r.method == "HEAD":
            continue
        assert r.name, f"{provider.name}: {r.method} {r.resource.canonical} has no name; " \
                       "declare it with providers.seam.op()"
        found[r.name] = (r.method, r.resource.canonical)
    return found


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> Any:
    (loaded,) = base.load([request.param])
    return loaded


def test_every_route_has_its_contracts(provider: Any) -> None:
    manifest = contracts.manifest(provider.name)
    assert manifest is not None, f"contracts_data/{provider.name}/operations.json is missing"
    served = routes_of(provider)
    listed = {name: (op.method, op.path) for name, op in manifest.operations.items()}
    assert sorted(set(served) - set(listed)) == [], "routes without contracts"
    assert sorted(set(listed) - set(served)) == [], "contracts of routes that do not exist"
    for name, (method, path) in served.items():
        assert listed[name] == (method, path), f"{name}: manifest says {listed[name]}"
        op = manifest.operations[name]
        assert op.reference.startswith("https://"), f"{name}: no reference URL"
        contracts.validator(provider.name, op.request)
        contracts.validator(provider.name, op.response)
    contracts.validator(provider.name, manifest.error)


def test_every_event_type_has_a_payload_contract(provider: Any) -> None:
    manifest = contracts.manifest(provider.name)
    assert manifest is not None
    emitted = getattr(provider, "event_types", None)
    assert emitted, f"{provider.name} does not declare event_types"
    assert sorted(set(emitted) - set(manifest.webhooks)) == [], "events without contracts"
    assert sorted(set(manifest.webhooks) - set(emitted)) == [], "contracts of no event"
    for schema_name in set(manifest.webhooks.values()):
        contracts.validator(provider.name, schema_name)


def test_stripes_event_object_is_any_event_it_sends() -> None:
    """`GET /v1/events` lists every event the webhooks send: the event object's contract
    is one of each webhook payload's."""
    root = resources.files("paysandbox.contracts_data").joinpath("stripe")
    sent = set(json.loads(root.joinpath("operations.json").read_text())["webhooks"].values())
    union = json.loads(root.joinpath("objects", "event.json").read_text())["anyOf"]
    assert {ref["$ref"].removeprefix("../") for ref in union} == sent
