// Mollie's Node client at its default (https://api.mollie.com): a payment completed at
// its checkout (here by the admin API, as a shopper would), a refund, a failed payment,
// the webhook Mollie sends (unsigned by design: `id=tr_…`, verified by fetching the
// payment with the client, as Mollie documents), and a customer's first card payment
// whose mandate then pays a recurring payment without a checkout.
"use strict";
const crypto = require("crypto");
const { createMollieClient } = require("@mollie/api-client");
const { receiver, admin, run } = require("./receiver.js");

run(async () => {
  const hooks = await receiver();
  const mollie = createMollieClient({ apiKey: "test_" + crypto.randomBytes(15).toString("hex") });
  const create = () => mollie.payments.create({
    amount: { currency: "EUR", value: "10.00" }, description: "Order 1", method: "ideal",
    redirectUrl: "https://shop.example/return", webhookUrl: hooks.url });

  const open = await create();
  await admin("POST", `/payments/${open.id}/complete`, { outcome: "success" });
  const paid = await mollie.payments.get(open.id);
  const refund = await mollie.paymentRefunds.create({
    paymentId: open.id, amount: { currency: "EUR", value: "4.00" } });
  const doomed = await create();
  await admin("POST", `/payments/${doomed.id}/complete`, { outcome: "failure" });

  const got = await hooks.until((all) => [open.id, doomed.id].every(
    (id) => all.some((d) => new URLSearchParams(d.body).get("id") === id)));
  const fetched = await Promise.all(got.map((d) =>
    mollie.payments.get(new URLSearchParams(d.body).get("id"))));
  const recurring = await mandated(mollie);
  hooks.close();
  return {
    open: [open.status, open.getCheckoutUrl().startsWith("https://api.mollie.com/")],
    paid: paid.status, refund: [refund.status, refund.amount.value],
    notified: [...new Set(fetched.map((p) => `${p.id === open.id ? "first" : "second"}:${p.status}`))].sort(),
    recurring,
  };
});

async function mandated(mollie) {
  const customer = await mollie.customers.create({ name: "T. Test",
                                                   email: "t.test@example.org" });
  const pay = (sequenceType, extra) => mollie.customerPayments.create({
    customerId: customer.id, amount: { currency: "EUR", value: "10.00" },
    description: `Gold plan, ${sequenceType}`, sequenceType, ...extra });
  const first = await pay("first", { method: "creditcard",
                                     redirectUrl: "https://shop.example/return" });
  await admin("POST", `/payments/${first.id}/complete`, { outcome: "success" });
  const paid = await mollie.payments.get(first.id);
  const mandates = await mollie.customerMandates.page({ customerId: customer.id });
  const renewal = await pay("recurring", {});
  return {
    first: [first.status, paid.status, paid.sequenceType],
    mandates: mandates.map((m) => [m.id === paid.mandateId, m.status, m.method]),
    renewal: [renewal.status, renewal.sequenceType, renewal.mandateId === paid.mandateId,
              renewal.customerId === customer.id],
  };
}
