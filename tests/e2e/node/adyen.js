// Adyen's Node library at its TEST defaults (https://checkout-test.adyen.com): a payment
// for manual capture, capture, refund, a refusal, a notification whose HMAC the
// library's own validator accepts, and a card stored by a payment then charged without
// the shopper (ContAuth) and listed among the shopper's stored methods.
"use strict";
const { Client, CheckoutAPI, hmacValidator } = require("@adyen/api-library");
const { receiver, admin, run } = require("./receiver.js");

const HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
const card = (holderName) => ({ type: "scheme", number: "4111111111111111",
                                expiryMonth: "03", expiryYear: "2030", cvc: "737",
                                holderName });

run(async () => {
  const hooks = await receiver();
  await admin("PUT", "/webhooks/adyen", { url: hooks.url, secret: HMAC_KEY });
  const checkout = new CheckoutAPI(new Client({ apiKey: `AQE_node_${Date.now()}`,
                                                environment: "TEST" }));
  const merchantAccount = "TestMerchantECOM";
  const amount = { currency: "EUR", value: 1000 };

  const paid = await checkout.PaymentsApi.payments({
    amount, reference: "node-1", merchantAccount, paymentMethod: card("Jenny Rosen"),
    returnUrl: "https://shop.example/return", additionalData: { manualCapture: "true" } });
  const capture = await checkout.ModificationsApi.captureAuthorisedPayment(
    paid.pspReference, { amount, merchantAccount, reference: "node-1-capture" });
  const refund = await checkout.ModificationsApi.refundCapturedPayment(
    paid.pspReference, { amount: { currency: "EUR", value: 400 }, merchantAccount,
                         reference: "node-1-refund" });
  const refused = await checkout.PaymentsApi.payments({
    amount, reference: "node-2", merchantAccount, paymentMethod: card("NOT_ENOUGH_BALANCE"),
    returnUrl: "https://shop.example/return" });

  const stored = await storedCard(checkout, merchantAccount);

  const got = await hooks.until((all) => all.some((d) => d.body.includes('"CAPTURE"')));
  const items = got.flatMap((d) => JSON.parse(d.body).notificationItems)
    .map((i) => i.NotificationRequestItem);
  const validator = new hmacValidator();
  hooks.close();
  return {
    authorised: paid.resultCode, capture: capture.status, refund: refund.status,
    refused: [refused.resultCode, refused.refusalReason],
    events: [...new Set(items.map((i) => i.eventCode))].sort(),
    verified: items.length > 0 && items.every((i) => validator.validateHMAC(i, HMAC_KEY)),
    forged: validator.validateHMAC({ ...items[0], amount: { currency: "EUR", value: 1 } },
                                   HMAC_KEY),
    stored,
  };
});

async function storedCard(checkout, merchantAccount) {
  const shopperReference = `node-shopper-${Date.now()}`;
  const amount = { currency: "EUR", value: 1500 };
  const first = await checkout.PaymentsApi.payments({
    amount, reference: "node-3", merchantAccount, paymentMethod: card("Jenny Rosen"),
    returnUrl: "https://shop.example/return", shopperReference, storePaymentMethod: true,
    shopperInteraction: "Ecommerce", recurringProcessingModel: "Subscription" });
  const data = first.additionalData || {};
  const token = data["tokenization.storedPaymentMethodId"];
  const renewal = await checkout.PaymentsApi.payments({
    amount, reference: "node-4", merchantAccount, shopperReference,
    returnUrl: "https://shop.example/return",
    paymentMethod: { type: "scheme", storedPaymentMethodId: token },
    shopperInteraction: "ContAuth", recurringProcessingModel: "Subscription" });
  const listed = await checkout.RecurringApi.getTokensForStoredPaymentDetails(
    shopperReference, merchantAccount);
  return {
    first: first.resultCode, token: /^[A-Za-z0-9]{16}$/.test(token || ""),
    nti: /^[0-9]{15}$/.test(data.networkTxReference || ""),
    renewal: renewal.resultCode,
    listed: (listed.storedPaymentMethods || []).map((m) => [m.id === token, m.lastFour]),
  };
}
