// checkout-sdk-node with a sandbox key and a merchant subdomain
// (https://merchant42.api.sandbox.checkout.com): authorize, capture, refund, a decline
// and a webhook whose Cko-Signature checks out (HMAC-SHA256 of the raw body, as
// Checkout.com documents; the SDK ships no verifier); then a card saved by a payment
// and charged merchant-initiated, quoting the first payment's scheme_id (which another
// card may not quote).
"use strict";
const crypto = require("crypto");
const { Checkout } = require("checkout-sdk-node");
const { receiver, admin, run } = require("./receiver.js");

const SECRET = "cko-webhook-signature-key";
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const key = "sk_sbox_" + Array.from(crypto.randomBytes(27), (b) => BASE32[b % 32]).join("");
const card = { type: "card", number: "4242424242424242", expiry_month: 12,
               expiry_year: 2035, cvv: "100" };

run(async () => {
  const hooks = await receiver();
  await admin("PUT", "/webhooks/checkoutcom", { url: hooks.url, secret: SECRET });
  const cko = new Checkout(key, { pk: "pk_sbox_node", subdomain: "merchant42" });

  const authorized = await cko.payments.request({
    source: card, amount: 1000, currency: "EUR", capture: false, reference: "node-1" });
  const capture = await cko.payments.capture(authorized.id, { amount: 1000 });
  const refund = await cko.payments.refund(authorized.id, { amount: 400 });
  const declined = await cko.payments.request({
    source: card, amount: 1051, currency: "EUR", reference: "node-2" });
  const details = await cko.payments.get(authorized.id);
  const saved = await savedSource(cko);

  const got = await hooks.until((all) => all.some((d) => d.body.includes("payment_captured")));
  const verified = got.every((d) => {
    const mac = crypto.createHmac("sha256", SECRET).update(d.body).digest("hex");
    return crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(d.headers["cko-signature"]));
  });
  hooks.close();
  return {
    authorized: [authorized.status, authorized.approved], capture: !!capture.action_id,
    refund: !!refund.action_id, declined: [declined.approved, declined.response_code],
    status: details.status, types: [...new Set(got.map((d) => JSON.parse(d.body).type))],
    verified, saved,
  };
});

async function savedSource(cko) {
  const first = await cko.payments.request({
    source: card, amount: 1500, currency: "EUR", reference: "node-3",
    payment_type: "Recurring", customer: { email: "node@example.com", name: "Ana Lima" } });
  const renewal = await cko.payments.request({
    source: { type: "id", id: first.source.id }, amount: 1500, currency: "EUR",
    reference: "node-4", merchant_initiated: true, payment_type: "Recurring",
    previous_payment_id: first.scheme_id });
  const otherCard = await cko.payments.request({
    source: { ...card, number: "5436031030606378" }, amount: 1500, currency: "EUR",
    reference: "node-5", merchant_initiated: true, payment_type: "Recurring",
    previous_payment_id: first.scheme_id });
  return {
    first: [first.approved, first.source.id.startsWith("src_"),
            /^[0-9]{15}$/.test(first.scheme_id)],
    renewal: [renewal.approved, renewal.status, renewal.source.id === first.source.id],
    other_card: [otherCard.approved, otherCard.response_code],
  };
}
