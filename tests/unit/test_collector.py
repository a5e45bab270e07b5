"""What `paysandbox serve` keeps stays out of the garbage collector's sight while it serves,
so a store that grows under a load test does not turn into ever longer collector pauses;
a reset or shutdown gives it back, so cycles among it are collected again. Embedded in
another process (the pytest plugin, a test server), the simulator leaves its host's
collector alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from paysandbox.app import ENGINE, create_app
from paysandbox.collector import long_lived_heap
from paysandbox.core.payments import Payment
from paysandbox.settings import Settings

FORM = {"amount": "2000", "currency": "usd", "confirm": "true", "payment_method": "pm_card_visa"}
NS = "sk_test_collector"
AUTH = {"Authorization": f"Bearer {NS}"}


@pytest.fixture(autouse=True)
def only_explicit_collections() -> Iterator[None]:
    """Collections come when the test asks for them, not when allocations trigger one."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def walked_by_collector(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects())


async def create(client: TestClient, app: object) -> Payment:
    response = await client.post("/stripe/v1/payment_intents", data=FORM, headers=AUTH)
    assert response.status == 200
    found = await app[ENGINE].store.get(NS, (await response.json())["id"])  # type: ignore[index]
    assert isinstance(found, Payment)
    return found


async def test_payments_kept_are_frozen_after_a_middle_collection() -> None:
    app = create_app(Settings(providers=("stripe",)))
    with long_lived_heap():  # as `paysandbox serve` runs the app
        async with TestClient(TestServer(app)) as client:
            kept = [await create(client, app) for _ in range(3)]
            assert all(walked_by_collector(p) for p in kept)

            gc.collect(1)  # a middle collection, as allocations trigger them under load
            assert not any(walked_by_collector(p) for p in kept)

            newest = await create(client, app)
            gc.collect(0)  # a young collection alone freezes nothing
            assert walked_by_collector(newest)

            reset = await client.post("/__admin/reset", json={})
            assert reset.status == 200
            assert walked_by_collector(kept[0])  # a reset gives everything back

            again = await create(client, app)
            gc.collect(1)
            assert not walked_by_collector(again)


async def test_shutdown_gives_everything_back() -> None:
    app = create_app(Settings(providers=("stripe",)))
    with long_lived_heap():
        async with TestClient(TestServer(app)) as client:
            kept = await create(client, app)
            gc.collect(1)
            assert not walked_by_collector(kept)
    assert gc.get_freeze_count() == 0
    assert walked_by_collector(kept)


async def test_embedded_the_simulator_freezes_nothing() -> None:
    app = create_app(Settings(providers=("stripe",)))
    async with TestClient(TestServer(app)) as client:
        kept = await create(client, app)
        gc.collect(1)
        gc.collect()
        assert walked_by_collector(kept)
        assert gc.get_freeze_count() == 0
