// stripe-node at its defaults (https://api.stripe.com): create, capture, refund, a
// decline, a webhook verified by the SDK's own constructEvent, and a card saved to a
// customer then charged off-session.
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
  const saved = await savedCard(stripe);
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
    saved,
  };
});

async function savedCard(stripe) {
  const customer = await stripe.customers.create({ email: "node@example.com" });
  const setup = await stripe.setupIntents.create({
    customer: customer.id, payment_method: "pm_card_visa", confirm: true });
  const listed = await stripe.customers.listPaymentMethods(customer.id);
  const offSession = await stripe.paymentIntents.create({
    amount: 1200, currency: "usd", customer: customer.id, confirm: true,
    payment_method: setup.payment_method, off_session: true });
  const charge = await stripe.charges.retrieve(offSession.latest_charge);
  let soft = null;
  try {
    const risky = await stripe.paymentMethods.attach("pm_card_authenticationRequired",
                                                     { customer: customer.id });
    await stripe.paymentIntents.create({
      amount: 1200, currency: "usd", customer: customer.id, confirm: true,
      payment_method: risky.id, off_session: true });
  } catch (e) {
    soft = { type: e.type, code: e.code, status: e.statusCode,
             intent: e.raw.payment_intent.status };
  }
  return { setup: setup.status, listed: listed.data.map((m) => m.id).includes(setup.payment_method),
           off_session: offSession.status,
           nti: /^[0-9]{15}$/.test(charge.payment_method_details.card.network_transaction_id),
           soft };
}
