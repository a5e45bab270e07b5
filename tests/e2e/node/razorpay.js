// Razorpay's Node SDK at its default (https://api.razorpay.com): an order paid by a UPI
// collect (the customer approves as the clock moves), manual capture, a refund, a
// failed payment, and a webhook whose X-Razorpay-Signature validateWebhookSignature
// accepts.
"use strict";
const crypto = require("crypto");
const Razorpay = require("razorpay");
const { validateWebhookSignature } = require("razorpay/dist/utils/razorpay-utils");
const { receiver, admin, run } = require("./receiver.js");

const SECRET = "whsec-razorpay-dashboard-secret";

run(async () => {
  const hooks = await receiver();
  await admin("PUT", "/webhooks/razorpay", { url: hooks.url, secret: SECRET });
  const rzp = new Razorpay({ key_id: "rzp_test_" + crypto.randomBytes(7).toString("hex"),
                             key_secret: "node-secret" });
  const collect = async (amount, vpa) => {
    const order = await rzp.orders.create({ amount, currency: "INR", payment_capture: false,
                                            receipt: crypto.randomBytes(8).toString("hex") });
    const { razorpay_payment_id: id } = await rzp.payments.createUpi({
      amount, currency: "INR", order_id: order.id, email: "gaurav.kumar@example.com",
      contact: "9000090000", method: "upi", upi: { flow: "collect", vpa } });
    return id;
  };

  const paid = await collect(30000, "success@razorpay");
  const failed = await collect(20000, "failure@razorpay");
  await admin("POST", "/clock/advance", { by: "5s" });
  const poll = async (id, status) => {
    for (let i = 0; i < 200; i += 1) {
      const p = await rzp.payments.fetch(id);
      if (p.status === status) return p;
      await new Promise((r) => setTimeout(r, 50));
    }
    return rzp.payments.fetch(id);
  };
  const authorized = await poll(paid, "authorized");
  const captured = await rzp.payments.capture(paid, 30000, "INR");
  const refund = await rzp.payments.refund(paid, { amount: 4000 });
  const declined = await poll(failed, "failed");

  const got = await hooks.until((all) => all.some((d) => d.body.includes("payment.captured")));
  const verified = got.every((d) => validateWebhookSignature(
    d.body, d.headers["x-razorpay-signature"], SECRET));
  hooks.close();
  return {
    authorized: authorized.status, captured: [captured.status, captured.amount],
    refund: [refund.entity, refund.amount], declined: [declined.status, !!declined.error_code],
    events: [...new Set(got.map((d) => JSON.parse(d.body).event))].sort(), verified,
  };
});
