"""How to follow one trace from your service into the provider's side.

Send the W3C `traceparent` header with your calls (OpenTelemetry's HTTP instrumentation
does it for you): the simulator keeps it with the request's journal entry
(`"traceparent"`), and every webhook the request causes is sent with a `traceparent` of
the same trace id, a new span id per attempt. Your webhook handler's span joins the trace
that made the payment. A webhook no traced request caused (a payment settling by itself
on the clock, a delivery from the admin API) starts a trace of its own; a redelivery
continues the first delivery's trace. A malformed header is ignored, as the spec says.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import stripe

from paysandbox import tracing
from paysandbox.testing.receiver import Delivery, WebhookReceiver
from paysandbox.testing.server import SimulatorServer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def client_for(sim: SimulatorServer) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_tracing", base_addresses={"api": sim.url("stripe")},
                               max_network_retries=0)


def pay(client: stripe.StripeClient, headers: dict[str, str] | None = None) -> str:
    pi = client.v1.payment_intents.create(
        params={"amount": 2500, "currency": "eur", "confirm": True,
                "payment_method": "pm_card_visa"},
        options={"headers": headers} if headers else None)
    return str(pi.id)


def arrived(receiver: WebhookReceiver, wanted: Callable[[Delivery], bool],
            timeout: float = 10) -> Delivery:
    deadline = time.monotonic() + timeout
    while True:
        found = [d for d in receiver.received("stripe", "payment_intent.succeeded")
                 if wanted(d)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no such delivery in {timeout} s: " \
            f"{[d.headers.get('traceparent') for d in receiver.received()]}"
        time.sleep(0.05)


def test_the_journal_keeps_the_requests_traceparent(payment_simulator: SimulatorServer) -> None:
    client = client_for(payment_simulator)
    pay(client, {"traceparent": TRACEPARENT})
    pay(client)  # no header: the entry has none (the simulator starts no trace for it)
    pay(client, {"traceparent": TRACEPARENT.upper()})  # malformed: uppercase hex

    newest_first = payment_simulator.journal(path="/v1/payment_intents")
    assert [e.get("traceparent") for e in newest_first] == [None, None, TRACEPARENT]


def test_webhooks_continue_the_trace_of_the_request_that_caused_them(
        payment_simulator: SimulatorServer, webhook_receiver: WebhookReceiver) -> None:
    pay(client_for(payment_simulator), {"traceparent": TRACEPARENT})

    delivery = webhook_receiver.wait_for("stripe", "payment_intent.succeeded")
    sent = delivery.headers["traceparent"]
    assert tracing.parse(sent) == sent
    version, trace_id, span_id, flags = sent.split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id != "00f067aa0ba902b7"  # the simulator's span, a child of the caller's
    # The admin API shows the trace of each delivery.
    listed = payment_simulator.wait_for_webhook("payment_intent.succeeded", provider="stripe")
    assert listed["trace_id"] == TRACE_ID


def test_an_untraced_request_gets_webhooks_in_a_trace_of_their_own_and_a_redelivery_keeps_it(
        payment_simulator: SimulatorServer, webhook_receiver: WebhookReceiver) -> None:
    pay(client_for(payment_simulator), {"traceparent": TRACEPARENT})
    pay(client_for(payment_simulator))  # on the same connection, without a header

    delivered = arrived(webhook_receiver,
                        lambda d: tracing.trace_id(d.headers["traceparent"]) != TRACE_ID)
    first = delivered.headers["traceparent"]
    assert tracing.parse(first) == first

    record = next(d for d in payment_simulator.client.deliveries(provider="stripe")
                  if d["trace_id"] == tracing.trace_id(first))
    again = payment_simulator.admin("POST", f"/webhooks/deliveries/{record['id']}/redeliver")
    assert again["trace_id"] == record["trace_id"]
    resent = arrived(webhook_receiver, lambda d: d.headers["traceparent"] != first
                     and tracing.trace_id(d.headers["traceparent"]) == tracing.trace_id(first))
    assert tracing.parse(resent.headers["traceparent"]) is not None
