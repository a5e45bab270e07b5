// Mercado Pago's Node SDK at its default (https://api.mercadopago.com): a card payment
// for later capture, a partial capture, a refund and the refunds listed (the SDK asks
// GET /v1/payments/{id}/refunds/), a rejection, a notification whose x-signature
// the SDK's WebhookSignatureValidator accepts, and a customer's card saved from a token
// then paid with a token made from its card_id.
"use strict";
const crypto = require("crypto");
const { MercadoPagoConfig, Payment, PaymentRefund, CardToken, Customer, CustomerCard,
        WebhookSignatureValidator } = require("mercadopago");
const { receiver, admin, run } = require("./receiver.js");

const SECRET = "a-secret-signature-from-your-integrations";
const digits = (n) => Array.from(crypto.randomBytes(n), (b) => b % 10).join("");
const accessToken = `TEST-${digits(16)}-010203-${crypto.randomBytes(16).toString("hex")}-${digits(9)}`;
const PAYER = { email: "buyer@testuser.com", first_name: "Ana", last_name: "Silva",
                identification: { type: "CPF", number: "19119119100" } };

run(async () => {
  const hooks = await receiver();
  await admin("PUT", "/webhooks/mercadopago", { url: hooks.url, secret: SECRET });
  const client = new MercadoPagoConfig({ accessToken });
  const payments = new Payment(client);
  const refunds = new PaymentRefund(client);
  const token = async (name) => (await new CardToken(client).create({ body: {
    card_number: "5031433215406351", expiration_month: "11", expiration_year: "2030",
    security_code: "123", cardholder: { name, identification: {
      type: "CPF", number: "12345678909" } } } })).id;

  const authorized = await payments.create({ body: {
    transaction_amount: 110, token: await token("APRO"), installments: 1,
    payment_method_id: "master", payer: PAYER, capture: false } });
  const captured = await payments.capture({ id: authorized.id, transaction_amount: 40 });
  const refund = await refunds.create({ payment_id: authorized.id, body: { amount: 10 } });
  const listed = await refunds.list({ payment_id: authorized.id });
  const rejected = await payments.create({ body: {
    transaction_amount: 50, token: await token("FUND"), installments: 1,
    payment_method_id: "master", payer: PAYER } });

  const saved = await savedCard(client, await token("APRO"));

  const got = await hooks.until((all) => all.length >= 1);
  const verified = got.map((d) => {
    const dataId = new URL(d.path, "http://receiver").searchParams.get("data.id");
    WebhookSignatureValidator.validate({ xSignature: d.headers["x-signature"],
                                         xRequestId: d.headers["x-request-id"], dataId,
                                         secret: SECRET, toleranceSeconds: 300 });
    return dataId;
  });
  hooks.close();
  return {
    authorized: [authorized.status, authorized.status_detail],
    captured: [captured.status, captured.transaction_amount],
    refund: [refund.status, refund.amount], listed: listed.map((r) => r.id === refund.id),
    rejected: [rejected.status, rejected.status_detail],
    notified: verified.includes(String(authorized.id)),
    saved,
  };
});

async function savedCard(client, token) {
  const customer = await new Customer(client).create({ body: {
    email: `ana.${Date.now()}@testuser.com`, first_name: "Ana", last_name: "Silva" } });
  const card = await new CustomerCard(client).create({ customerId: customer.id,
                                                      body: { token } });
  const listed = await new CustomerCard(client).list({ customerId: customer.id });
  const again = await new CardToken(client).create({ body: {
    card_id: card.id, security_code: "123" } });
  const paid = await new Payment(client).create({ body: {
    transaction_amount: 49.9, token: again.id, installments: 1, payment_method_id: "master",
    payer: { type: "customer", id: customer.id } } });
  return {
    card: [card.customer_id === customer.id, card.last_four_digits],
    listed: listed.map((c) => c.id === card.id),
    paid: [paid.status, paid.status_detail, String(paid.card.id) === String(card.id),
           paid.payer.id === customer.id],
  };
}
