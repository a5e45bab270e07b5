"""Every matcher and effect, observed from outside: declines through the stripe SDK,
faults through a real HTTP client, webhook chaos through a local receiver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import pytest
import stripe

from paysandbox.testing.client import AdminError
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver

Make = Callable[..., stripe.StripeClient]
FORM = {"amount": "2000", "currency": "usd", "confirm": "true", "payment_method": "pm_card_visa"}


def pay(client: stripe.StripeClient, **params: object) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa",
        **params})


def scenario(payment_simulator: SimulatorServer, text: str) -> str:
    return payment_simulator.use_scenario(text)


# -- outcomes and matchers ---------------------------------------------------------------

def test_a_canonical_decline_is_rendered_as_stripe_does(client, payment_simulator):
    scenario(payment_simulator, """
name: nsf
rules:
  - match: {provider: stripe, operation: authorize}
    outcome: {decline: insufficient_funds}
""")
    with pytest.raises(stripe.CardError) as err:
        pay(client)
    assert err.value.code == "card_declined"
    assert err.value.error.decline_code == "insufficient_funds"
    assert err.value.user_message == "Your card has insufficient funds."


def test_approve_overrides_a_decline_test_card(client, payment_simulator):
    scenario(payment_simulator, """
name: approve-all
rules:
  - {match: {operation: authorize}, outcome: approve}
""")
    assert pay(client, payment_method="pm_card_chargeDeclined").status == "succeeded"


def test_native_code_override(client, payment_simulator):
    scenario(payment_simulator, """
name: native
rules:
  - outcome: {decline: generic_decline, native_code: do_not_try_again}
    match: {operation: authorize}
""")
    with pytest.raises(stripe.CardError) as err:
        pay(client)
    assert err.value.error.decline_code == "do_not_try_again"


@pytest.mark.parametrize(("match", "hit", "miss"), [
    ("{amount: {gte: 50000}}", {"amount": 50000}, {"amount": 49999}),
    ("{amount: {between: [100, 200]}}", {"amount": 150}, {"amount": 201}),
    ("{amount: {in: [777]}}", {"amount": 777}, {"amount": 778}),
    ("{currency: [eur, gbp]}", {"currency": "eur"}, {"currency": "usd"}),
    ("{card: {brand: mastercard}}", {"payment_method": "pm_card_mastercard"}, {}),
    ("{card: {bin: '378282'}}", {"payment_method": "pm_card_amex"}, {}),
    ("{card: {last4: '0005'}}", {"payment_method": "pm_card_amex"}, {}),
    ("{metadata: {plan: gold}}", {"metadata": {"plan": "gold"}}, {"metadata": {"plan": "x"}}),
    ("{not: {currency: usd}}", {"currency": "eur"}, {}),
    ("{any: [{currency: eur}, {amount: 1}]}", {"amount": 1}, {}),
    ("{all: [{currency: usd}, {amount: {lt: 100}}]}", {"amount": 99}, {"amount": 100}),
])
def test_matchers_select_exactly_their_requests(client, payment_simulator, match, hit, miss):
    scenario(payment_simulator, f"""
name: matcher
rules:
  - match: {match}
    outcome: {{decline: do_not_honor}}
""")
    with pytest.raises(stripe.CardError):
        pay(client, **hit)
    assert pay(client, **miss).status == "succeeded"


def test_namespace_and_header_matchers(make_stripe: Make, payment_simulator):
    scenario(payment_simulator, """
name: tenants
rules:
  - match: {namespace: sk_test_team_red}
    outcome: {decline: fraudulent}
""")
    with pytest.raises(stripe.CardError):
        pay(make_stripe("sk_test_team_red"))
    assert pay(make_stripe("sk_test_team_blue")).status == "succeeded"


def test_first_every_after_and_counters(client, payment_simulator):
    scenario(payment_simulator, """
name: counts
rules:
  - name: every-third
    match: {operation: authorize}
    every: 3
    outcome: {decline: try_again_later}
""")
    results = []
    for _ in range(6):
        try:
            pay(client)
            results.append("ok")
        except stripe.CardError:
            results.append("declined")
    assert results == ["ok", "ok", "declined", "ok", "ok", "declined"]
    status = payment_simulator.client.scenarios()[0]
    assert status["rules"][0] == {"name": "every-third", "matched": 6, "applied": 2}


def test_probability_is_deterministic_for_a_seed(make_stripe: Make, payment_simulator):
    text = """
name: coin
seed: 42
rules:
  - {match: {operation: authorize}, probability: 0.5, outcome: {decline: generic_decline}}
"""

    def run() -> list[bool]:
        payment_simulator.use_scenario(text)  # reloading re-seeds
        client = make_stripe()
        out = []
        for _ in range(20):
            try:
                pay(client)
                out.append(True)
            except stripe.CardError:
                out.append(False)
        return out

    first, second = run(), run()
    assert first == second
    assert 3 < first.count(False) < 17


def test_requires_action_then_decline(client, payment_simulator):
    scenario(payment_simulator, """
name: slow-3ds
rules:
  - match: {operation: authorize}
    outcome: {requires_action: three_ds_challenge, then: {decline: insufficient_funds}}
""")
    pi = pay(client)
    assert pi.status == "requires_action"
    payment_simulator.client.complete(pi.id)
    after = client.v1.payment_intents.retrieve(pi.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.decline_code == "insufficient_funds"


def test_pending_then_settles_on_the_virtual_clock(client, payment_simulator):
    scenario(payment_simulator, """
name: pending
rules:
  - match: {operation: authorize}
    outcome: {pending: {after: 1h, then: approve}}
""")
    pi = pay(client)
    assert pi.status == "processing"
    payment_simulator.advance_clock("2h")
    deadline = time.monotonic() + 10
    while client.v1.payment_intents.retrieve(pi.id).status != "succeeded":
        assert time.monotonic() < deadline, "the pending payment never settled"
        time.sleep(0.05)


# -- faults ------------------------------------------------------------------------------

def test_http_fault_in_stripes_envelope_with_retry_after(client, payment_simulator):
    scenario(payment_simulator, """
name: limits
rules:
  - {match: {provider: stripe}, fault: {http: 429, retry_after: 3s}}
""")
    with pytest.raises(stripe.RateLimitError) as err:
        pay(client)
    assert err.value.http_status == 429
    assert err.value.headers["Retry-After"] == "3"
    with pytest.raises(stripe.RateLimitError):
        client.v1.payment_intents.list()  # reads are faulted too


def test_a_503_changes_nothing(client, payment_simulator):
    scenario(payment_simulator, """
name: down
rules: [{match: {operation: authorize}, fault: {http: 503}}]
""")
    with pytest.raises(stripe.APIError) as err:
        pay(client)
    assert err.value.http_status == 503
    payment_simulator.client.clear_scenarios()
    assert client.v1.payment_intents.list().data == []


async def _post(sim: SimulatorServer, key: str, timeout: float = 10) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
        resp = await s.post(sim.url("stripe") + "/v1/payment_intents", data=FORM,
                            headers={"Authorization": f"Bearer {key}"})
        await resp.read()
        return resp


def test_connection_reset(payment_simulator, stripe_key):
    scenario(payment_simulator, "name: reset\nrules: [{fault: connection_reset}]\n")
    with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
        asyncio.run(_post(payment_simulator, stripe_key))


def test_empty_response(payment_simulator, stripe_key):
    scenario(payment_simulator, "name: empty\nrules: [{fault: empty_response}]\n")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        asyncio.run(_post(payment_simulator, stripe_key))


def test_hang_until_the_client_gives_up(payment_simulator, stripe_key):
    scenario(payment_simulator, "name: hang\nrules: [{fault: hang}]\n")
    with pytest.raises(TimeoutError):
        asyncio.run(_post(payment_simulator, stripe_key, timeout=0.5))


def test_malformed_body_is_cut_json_but_the_payment_happened(payment_simulator, stripe_key,
                                                             make_stripe):
    scenario(payment_simulator, "name: cut\nrules: [{match: {operation: authorize}, "
                                "fault: malformed_body}]\n")

    async def run() -> bytes:
        async with aiohttp.ClientSession() as s:
            resp = await s.post(payment_simulator.url("stripe") + "/v1/payment_intents",
                                data=FORM, headers={"Authorization": f"Bearer {stripe_key}"})
            assert resp.status == 200
            return await resp.read()

    body = asyncio.run(run())
    import json
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert make_stripe(stripe_key).v1.payment_intents.list().data[0].status == "succeeded"


def test_slow_body_arrives_whole(payment_simulator, stripe_key):
    scenario(payment_simulator, "name: slow\nrules: [{fault: {slow_body: 0.4s}}]\n")

    async def run() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as s:
            resp = await s.post(payment_simulator.url("stripe") + "/v1/payment_intents",
                                data=FORM, headers={"Authorization": f"Bearer {stripe_key}"})
            return resp.status, await resp.read()

    status, body = asyncio.run(run())
    assert status == 200
    import json
    assert json.loads(body)["status"] == "succeeded"


def test_latency_is_applied_and_journaled(client, payment_simulator):
    scenario(payment_simulator, """
name: slow
rules: [{name: lag, match: {operation: authorize}, latency: 150ms}]
""")
    pay(client)
    entry = payment_simulator.journal(path="/v1/payment_intents")[0]
    assert entry["scenario_rules"] == ["slow/lag"]
    assert entry["duration_ms"] >= 150


# -- phases ------------------------------------------------------------------------------

def test_manual_start_and_phase_window(client, payment_simulator):
    scenario(payment_simulator, """
name: outage
start: manual
phases:
  - {name: down, after: 0s, for: 1h, rules: [{match: {operation: authorize}, fault: {http: 503}}]}
""")
    assert pay(client).status == "succeeded"  # not started: no phase is active
    payment_simulator.client.start_scenario("outage")
    with pytest.raises(stripe.APIError):
        pay(client)
    status = payment_simulator.client.scenarios()[0]
    assert status["phases"][0]["active"] is True


# -- admin -------------------------------------------------------------------------------

def test_a_bad_put_is_refused_with_positions_and_changes_nothing(payment_simulator):
    scenario(payment_simulator, "name: keep\nrules: [{outcome: approve}]\n")
    with pytest.raises(AdminError) as err:
        payment_simulator.client.call("PUT", "/scenarios/keep", "name: keep\nrules:\n"
                                      "  - {latncy: 5s}\n", content_type="application/yaml")
    assert err.value.status == 400
    assert any("latency" in p for p in err.value.body["error"]["problems"])
    assert [s["name"] for s in payment_simulator.client.scenarios()] == ["keep"]
    assert payment_simulator.client.scenarios()[0]["rules"][0]["name"] == "rules[0]"


# -- webhook chaos -----------------------------------------------------------------------

def test_webhook_duplicates_and_bad_signatures(client, payment_simulator,
                                               hook_server: WebhookReceiver):
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    scenario(payment_simulator, """
name: chaos
webhooks: {duplicate: 1.0, bad_signature: 1.0}
""")
    pay(client)
    assert hook_server.wait_for(lambda got: len(got) == 2)
    for r in hook_server.received:
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(r.body.decode(), r.headers["Stripe-Signature"],
                                           endpoint.secret)


def test_webhook_drop_and_fail_first(client, payment_simulator,
                                     hook_server: WebhookReceiver):
    client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    scenario(payment_simulator, "name: late\nwebhooks: {fail_first: 1}\n")
    pay(client)
    time.sleep(0.3)
    assert hook_server.received == []  # the first attempt "failed"
    payment_simulator.advance_clock("10m")
    assert hook_server.wait_for(lambda got: len(got) == 1)
    scenario(payment_simulator, "name: late\nwebhooks: {drop: 1.0}\n")
    pay(client)
    time.sleep(0.3)
    assert len(hook_server.received) == 1


def test_stale_timestamp_fails_the_sdks_tolerance(client, payment_simulator,
                                                  hook_server: WebhookReceiver):
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    scenario(payment_simulator, "name: stale\nwebhooks: {stale_timestamp: 1.0}\n")
    pay(client)
    assert hook_server.wait_for(lambda got: len(got) == 1)
    r = hook_server.received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(r.body.decode(), r.headers["Stripe-Signature"],
                                       endpoint.secret, tolerance=300)


def test_header_path_and_country_matchers(payment_simulator, stripe_key, make_stripe):
    scenario(payment_simulator, """
name: targeted
rules:
  - {match: {header: {X-Test-Case: "^decline-"}}, outcome: {decline: lost_card}}
  - {match: {path: "/capture$"}, fault: {http: 500}}
  - {match: {country: BR}, outcome: {decline: card_not_supported}}
""")
    import requests
    url = payment_simulator.url("stripe") + "/v1/payment_intents"
    auth = {"Authorization": f"Bearer {stripe_key}"}
    declined = requests.post(url, data=FORM, headers={**auth, "X-Test-Case": "decline-1"},
                             timeout=10)
    assert declined.status_code == 402
    assert declined.json()["error"]["decline_code"] == "lost_card"
    fine = requests.post(url, data={**FORM, "capture_method": "manual"},
                         headers={**auth, "X-Test-Case": "happy"}, timeout=10)
    assert fine.status_code == 200
    capture = requests.post(f"{url}/{fine.json()['id']}/capture", headers=auth, timeout=10)
    assert capture.status_code == 500
    assert capture.json()["error"]["type"] == "api_error"


def test_first_and_after(client, payment_simulator):
    scenario(payment_simulator, """
name: windows
rules:
  - {name: warmup, match: {operation: authorize}, first: 2, outcome: {decline: try_again_later}}
  - {name: late, match: {operation: authorize}, after: 4, outcome: {decline: do_not_honor}}
""")
    codes = []
    for _ in range(6):
        try:
            pay(client)
            codes.append("ok")
        except stripe.CardError as exc:
            codes.append(exc.error.decline_code)
    assert codes == ["try_again_later", "try_again_later", "ok", "ok", "do_not_honor",
                     "do_not_honor"]


def test_webhook_delay_follows_the_virtual_clock(client, payment_simulator,
                                                 hook_server: WebhookReceiver):
    client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    scenario(payment_simulator, "name: slow-hooks\nwebhooks: {delay: 1h}\n")
    pay(client)
    time.sleep(0.3)
    assert hook_server.received == []
    payment_simulator.advance_clock("61m")
    assert hook_server.wait_for(lambda got: len(got) == 1)


def test_webhook_chaos_for_one_event_type_only(client, payment_simulator,
                                               hook_server: WebhookReceiver):
    client.v1.webhook_endpoints.create(params={"url": hook_server.url,
                                               "enabled_events": ["*"]})
    scenario(payment_simulator, """
name: drop-succeeded
webhooks: {match: {event: payment_intent.succeeded}, drop: 1.0}
""")
    pay(client)
    assert hook_server.wait_for(lambda got: len(got) == 2)
    time.sleep(0.3)
    assert sorted(hook_server.types()) == ["charge.succeeded", "payment_intent.created"]


def test_webhook_reorder_shuffles_deliveries(client, payment_simulator,
                                             hook_server: WebhookReceiver):
    client.v1.webhook_endpoints.create(params={"url": hook_server.url,
                                               "enabled_events": ["*"]})
    scenario(payment_simulator, "name: shuffle\nseed: 5\nwebhooks: {reorder: true}\n")
    emitted = [pay(client).id for _ in range(4)]
    assert hook_server.wait_for(lambda got: len(got) == 12, timeout=15)
    arrived = []
    for r in hook_server.received:
        obj = r.json()["data"]["object"]
        pid = obj.get("payment_intent") or obj["id"]
        if not arrived or arrived[-1] != pid:
            arrived.append(pid)
    assert arrived != emitted  # events of different payments interleave out of order
    assert sorted(set(arrived)) == sorted(emitted)
