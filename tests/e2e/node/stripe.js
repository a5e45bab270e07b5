// stripe-node at its defaults (https://api.stripe.com): create, capture, refund, a
// decline and a webhook verified by the SDK's own constructEvent.
"use strict";
const Stripe = require("stripe");
const { receiver, run } = require("./receiver.js");

run(async () => {
  const stripe = new Stripe(`sk_test_node_${Date.now()}`, { maxNetworkRetries: 0 });
  const hooks = await receiver();
  const endpoint = await stripe.webhookEndpoints.create({
    url: hooks.url, enabled_events: ["payment_intent.succeeded"] });

  const key = `order-${Date.now()}`;
  const authorized = await stripe.paymentIntents.create({
    amount: 2000, currency: "usd", confirm: true, payment_method: "pm_card_visa",
    capture_method: "manual" }, { idempotencyKey: key });
  const captured = await stripe.paymentIntents.capture(authorized.id,
                                                       { amount_to_capture: 1500 });
  const refund = await stripe.refunds.create({ payment_intent: captured.id, amount: 500 });
  const updated = await stripe.paymentIntents.update(captured.id,
                                                     { metadata: { order_id: "6735" } });
  let decline = null;
  try {
    await stripe.paymentIntents.create({ amount: 2000, currency: "usd", confirm: true,
                                         payment_method: "pm_card_chargeDeclined" });
  } catch (e) {
    const failed = e.raw.payment_intent.last_payment_error.payment_method;
    decline = { type: e.type, code: e.code, decline_code: e.decline_code,
                status: e.statusCode, last4: failed.card.last4 };
  }
  const [delivery] = await hooks.until((got) => got.length >= 1);
  const event = stripe.webhooks.constructEvent(delivery.body,
                                               delivery.headers["stripe-signature"],
                                               endpoint.secret);
  hooks.close();
  return {
    authorized: authorized.status, idempotency_key: authorized.lastResponse.idempotencyKey,
    key, captured: [captured.status, captured.amount_received],
    refund: [refund.status, refund.amount], order_id: updated.metadata.order_id, decline,
    event: [event.type, event.data.object.id === captured.id],
    billing_email: (await stripe.charges.retrieve(captured.latest_charge)).billing_details.email,
  };
});
