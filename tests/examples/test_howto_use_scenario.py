"""How to make Stripe misbehave in your own tests.

The `payment_simulator` fixture comes with the package (a pytest plugin): one simulator
for the whole test session, reset before each test that uses it. Point the Stripe SDK
at `payment_simulator.url("stripe")`, then load a scenario (the YAML language of
paysandbox/scenarios/ready/README.md) for one test, in one of two ways:

- the `payment_scenario` marker, with a file path or YAML text, when the whole test runs
  under the same conditions;
- `payment_simulator.use_scenario(...)` in the test body, with a path, YAML text or a
  dict, when the conditions change during the test or are computed by it.

Either way the scenario is gone before the next test starts.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import stripe
import yaml

#: The ready-made scenarios; copy one next to your tests to make it your own.
SCENARIOS = Path(__file__).resolve().parents[2] / "paysandbox" / "scenarios" / "ready"


def pay(client: stripe.StripeClient, amount: int = 2000, currency: str = "usd"
        ) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": amount, "currency": currency, "confirm": True,
        "payment_method": "pm_card_visa"})


@pytest.mark.payment_scenario(str(SCENARIOS / "rate-limiting.yaml"))
def test_the_marker_loads_a_file_for_the_whole_test(make_stripe):
    """rate-limiting.yaml refuses every 5th request made with the key
    `sk_test_tenant_over_quota`, with a Retry-After your client should honour.

    A relative path in the marker is looked up from the current directory, then from
    the test file's folder; an absolute one (as here) works from anywhere."""
    tenant = make_stripe("sk_test_tenant_over_quota")
    for _ in range(4):
        assert pay(tenant).status == "succeeded"
    with pytest.raises(stripe.RateLimitError) as refused:
        pay(tenant)
    assert refused.value.http_status == 429
    assert refused.value.headers is not None
    assert refused.value.headers["Retry-After"] == "2"

    # Other keys are other tenants: not limited.
    assert pay(make_stripe()).status == "succeeded"


@pytest.mark.payment_scenario("""
name: big-tickets-declined
rules:
  - match: {provider: stripe, operation: authorize, amount: {gte: 100000}}
    outcome: {decline: do_not_honor}
""")
def test_the_marker_also_takes_yaml_text(client):
    """A few lines of YAML in the marker keep a one-off condition next to the test
    that needs it: here, payments of 1000.00 or more are declined."""
    assert pay(client, amount=99_999).status == "succeeded"
    with pytest.raises(stripe.CardError) as declined:
        pay(client, amount=100_000)
    assert declined.value.code == "card_declined"
    assert declined.value.error is not None
    assert declined.value.error.decline_code == "do_not_honor"


def test_use_scenario_changes_conditions_in_the_middle_of_a_test(client, payment_simulator):
    """`use_scenario` loads (or replaces, by name) a scenario at any point of the test,
    so the test can check how your service behaves before, during and after."""
    assert pay(client).status == "succeeded"

    payment_simulator.use_scenario("""
name: stripe-down
rules:
  - match: {provider: stripe, operation: authorize}
    fault: {http: 503}
""")
    with pytest.raises(stripe.APIError) as down:
        pay(client)
    assert down.value.http_status == 503

    payment_simulator.client.clear_scenarios()  # or unload one: DELETE /__admin/scenarios/{name}
    assert pay(client).status == "succeeded"


def test_tweak_a_ready_made_file_by_passing_a_dict(client, payment_simulator):
    """To reuse a file with other numbers, load it as data, change it and pass the
    dict: here the US decline mix, reduced to its first rule and made certain, so that
    every USD payment is declined for insufficient funds."""
    mix = yaml.safe_load((SCENARIOS / "decline-mix-us.yaml").read_text())
    first = mix["rules"][0]
    assert first["outcome"] == {"decline": "insufficient_funds"}
    mix["rules"] = [dict(first, probability=1.0)]
    payment_simulator.use_scenario(mix)

    with pytest.raises(stripe.CardError) as declined:
        pay(client)
    assert declined.value.error is not None
    assert declined.value.error.decline_code == "insufficient_funds"
    assert pay(client, currency="eur").status == "succeeded"  # the mix is about USD


def test_see_which_rules_fired(client, payment_simulator):
    """`payment_simulator.client.scenarios()` (GET /__admin/scenarios) lists the loaded
    scenarios with, for each rule, how many requests it matched and how many it
    changed: the quickest way to see why a scenario did, or did not, apply."""
    payment_simulator.use_scenario("""
name: every-third-declined
rules:
  - name: third
    match: {provider: stripe, operation: authorize}
    every: 3
    outcome: {decline: try_again_later}
""")
    for _ in range(3):
        with contextlib.suppress(stripe.CardError):
            pay(client)
    (loaded,) = payment_simulator.client.scenarios()
    assert loaded["rules"] == [{"name": "third", "matched": 3, "applied": 1}]

    # The journal names the rules that touched each request.
    (declined,) = payment_simulator.journal(status=402)
    assert declined["scenario_rules"] == ["every-third-declined/third"]


def test_start_a_timeline_when_the_test_is_ready(client, payment_simulator):
    """A scenario with `start: manual` waits: its phases count from
    `start_scenario(name)` (POST /__admin/scenarios/{name}/start), so an outage can
    begin exactly when the test has set everything up."""
    payment_simulator.use_scenario("""
name: outage-at-start
start: manual
phases:
  - name: outage
    after: 0s
    for: 10m
    rules:
      - match: {provider: stripe}
        fault: {http: 503}
""")
    assert pay(client).status == "succeeded"  # loaded, not started

    payment_simulator.client.start_scenario("outage-at-start")
    with pytest.raises(stripe.APIError):
        pay(client)
    (loaded,) = payment_simulator.client.scenarios()
    assert loaded["phases"][0]["active"] is True
