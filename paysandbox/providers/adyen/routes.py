"""Adyen Checkout API paths -> canonical commands, and back to Adyen's objects.

Mounted at `/adyen`; the Checkout API lives under `/adyen/checkout/v{version}`, any
version from v68 on (the SDK's default, v71, v72…). Authentication is the `X-API-Key`
header (Basic auth with a web-service user works too); the key is the namespace, and
each payment also belongs to the `merchantAccount` it was made for.

Capture: Adyen's default is immediate auto-capture (the merchant account's setting),
so a payment is captured when authorised unless it asks for manual capture with
`additionalData.manualCapture: "true"` or delays it with `captureDelayHours` > 0 (both
leave it authorised until `/payments/{pspReference}/captures`).

Modifications are asynchronous, as in Adyen: the call answers `status: received` with
the modification's own pspReference, and its outcome (success "true", or "false" with
a reason, e.g. capturing more than was authorised) arrives as a standard notification.

LIMITATIONS (what of the real API this does not imitate):
- Card payments only (`paymentMethod.type: scheme`); `/paymentMethods` lists cards.
  No sessions flow (`/sessions`), stored payment methods, recurring, orders, payment
  links, donations, Apple/Google Pay, or local payment methods.
- 3D Secure 2: redirect (default since v69, `RedirectShopper`) and native
  (`authenticationData.threeDSRequestData.nativeThreeDS: preferred`) flows. Native:
  the device fingerprint (`IdentifyShopper`, then `Authorised` when frictionless or
  `ChallengeShopper`) for the test cards magic.py lists; others are challenged at once.
  The fingerprint has no 3DS Method page (no `threeDSMethodUrl` in its token; any
  `threeDSCompInd` is accepted); in the redirect flow the frictionless card authorises
  at once instead of passing through a redirect. No 3D Secure 1, data-only or
  authentication-only (`threeDSAuthenticationOnly`) flows.
- `captureDelayHours` > 0 leaves the payment authorised: the scheduled capture never
  happens by itself. Authorisations never expire.
- `/payments/{pspReference}/amountUpdates` adjusts an authorised payment's amount (up
  or down) whatever `industryUsage` says; Adyen's per-scheme rules on which
  adjustments an issuer accepts are not imitated.
- Encrypted card fields only in Adyen's test form (`test_4111111111111111`); real
  client-side encryption cannot be decrypted here.
- Risk (fraudResult), AVS, DCC, splits, line items and Level 2/3 data are accepted and
  ignored. Only the standard notification webhook is sent (no report or dispute
  webhooks); it is configured through the admin API, as Adyen's is in the Customer Area.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from paysandbox.core.cards import card_fingerprint, digits_only, is_expired, luhn_valid
from paysandbox.core.commands import (
    Adjust,
    Authorize,
    Capture,
    Command,
    Complete,
    Listing,
    RefundPayment,
    Result,
    Void,
)
from paysandbox.core.money import UnknownCurrency, currency
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import (
    AmountExceeded,
    CardDetails,
    InvalidTransition,
    Payment,
    PaymentError,
    Status,
)
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError
from paysandbox.hosted import register_challenge
from paysandbox.objects import Objects
from paysandbox.providers.adyen import magic, wire
from paysandbox.providers.adyen.wire import AdyenError
from paysandbox.providers.base import (
    NAMESPACE,
    RAW_BODY,
    REQUEST_ID,
    idempotent,
    json_fingerprint,
    payment_facts,
    route,
    scenario_facts,
)
from paysandbox.store.base import NotFound
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

if TYPE_CHECKING:
    from paysandbox.engine import Engine

NAME = "adyen"
MIN_VERSION = 68
_V = "/checkout/v{version:[0-9]+}"

#: The notification event code each modification endpoint's outcome arrives as, by the
#: name of its request contract (paysandbox/contracts_data/adyen/<kind>.request.json).
MODIFICATION_EVENTS: Mapping[str, str] = {
    "captures": "CAPTURE",
    "refunds": "REFUND",
    "cancels": "CANCELLATION",
    "reversals": "CANCEL_OR_REFUND",
    "amount_updates": "AUTHORISATION_ADJUSTMENT",
    "standalone_cancels": "TECHNICAL_CANCEL",
}
AUTHORISATION = "AUTHORISATION"
#: Every event code `events_for` and the modification endpoints can notify (each has a
#: payload contract in paysandbox/contracts_data/adyen/operations.json).
EVENT_CODES = frozenset({AUTHORISATION, *MODIFICATION_EVENTS.values()})


# -- modification commands: the canonical ones, carrying Adyen's references ---------------

@dataclass(frozen=True, slots=True)
class AdyenCapture(Capture):
    psp: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class AdyenCancel(Void):
    psp: str = ""
    reference: str = ""
    event_code: str = MODIFICATION_EVENTS["cancels"]


@dataclass(frozen=True, slots=True)
class AdyenAdjust(Adjust):
    psp: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class AdyenRefund(RefundPayment):
    reference: str = ""
    event_code: str = MODIFICATION_EVENTS["refunds"]


class AdyenProvider:
    name = NAME
    title = "Adyen"
    # Test mode, then the live-prefix hosts the SDKs build ({prefix}-checkout-live…).
    hostnames: Mapping[str, str] = {"checkout-test.adyen.com": "/checkout",
                                    "*.adyenpayments.com": ""}
    webhooks: WebhookScheme = wire.AdyenWebhooks()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_CODES

    def base_url_hint(self) -> str:
        return "/checkout/v71"  # any version from v68 works

    def public_status(self, p: Payment) -> str:
        return wire.result_code(p)

    def return_url(self, p: Payment) -> str | None:
        """Back to the merchant's returnUrl with Adyen's `redirectResult`, which the
        merchant submits to /payments/details."""
        url = p.extra.get("returnUrl")
        if not url:
            return None
        query = urlencode({"redirectResult": p.extra.get("redirect_token", "")})
        return f"{url}{'&' if '?' in url else '?'}{query}"

    def routes(self, engine: Engine) -> Iterable[web.RouteDef]:
        api = _Api(self, engine)
        return [
            route("POST", f"{_V}/payments", api.create_payment),
            route("POST", f"{_V}/payments/details", api.submit_payment_details),
            route("POST", f"{_V}/paymentMethods", api.list_payment_methods),
            route("POST", f"{_V}/payments/{{psp}}/captures", api.capture_payment),
            route("POST", f"{_V}/payments/{{psp}}/refunds", api.refund_payment),
            route("POST", f"{_V}/payments/{{psp}}/cancels", api.cancel_payment),
            route("POST", f"{_V}/payments/{{psp}}/reversals", api.reverse_payment),
            route("POST", f"{_V}/payments/{{psp}}/amountUpdates", api.update_payment_amount),
            route("POST", f"{_V}/cancels", api.cancel_payment_by_reference),
        ]

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        psp = request.get(REQUEST_ID, "")
        response = _json(wire.error_body(error, _psp_of(psp)), status=error.status)
        if error.code == "704" and error.status == 409:
            response.headers["transient-error"] = "true"
        return response

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()  # Adyen's webhooks are configured in the Customer Area: see the admin API

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        if isinstance(command, AdyenCapture):
            item = _modification_item(p, command.psp, command.reference,
                                      MODIFICATION_EVENTS["captures"], p.amount_captured, True)
        elif isinstance(command, AdyenCancel):
            item = _modification_item(p, command.psp, command.reference, command.event_code,
                                      p.amount, True)
        elif isinstance(command, AdyenAdjust):
            item = _modification_item(p, command.psp, command.reference,
                                      MODIFICATION_EVENTS["amount_updates"],
                                      p.amount_authorized, True)
        elif isinstance(command, AdyenRefund):
            refund = result.refund
            item = _modification_item(p, command.refund_id, command.reference,
                                      command.event_code, refund.amount if refund else 0, True)
        elif isinstance(command, Authorize | Complete) and \
                (before is None or before.status is not p.status) and \
                p.status in (Status.AUTHORIZED, Status.CAPTURED, Status.FAILED):
            item = _authorisation_item(p)
        else:
            return ()
        return [_event(namespace, item, _last_change(p))]


def _psp_of(request_id: str) -> str:
    """The pspReference an error answer carries (Adyen gives every request one)."""
    return (request_id.upper() + "0000000000000000")[:16]


def _authorisation_item(p: Payment) -> dict[str, Any]:
    x = p.extra
    ok = p.status is not Status.FAILED
    reason = f"{x.get('auth_code', '')}:{p.card.last4}:{p.card.exp_month}/{p.card.exp_year}" \
        if ok and p.card else ("" if ok else wire.refusal(p)[1])
    return wire.notification_item(
        psp=p.id, original=None, merchant_account=x.get("merchantAccount", ""),
        merchant_reference=x.get("reference", ""), value=p.amount, currency=p.currency,
        event_code=AUTHORISATION, success=ok, at=_last_change(p), reason=reason,
        payment_method=x.get("brand", ""),
        operations=("CANCEL", "CAPTURE", "REFUND") if ok else ())


def _modification_item(p: Payment, psp: str, reference: str, event_code: str, value: int,
                       success: bool, reason: str = "") -> dict[str, Any]:
    x = p.extra
    return wire.notification_item(
        psp=psp, original=p.id, merchant_account=x.get("merchantAccount", ""),
        merchant_reference=reference or x.get("reference", ""), value=value,
        currency=p.currency, event_code=event_code, success=success, at=_last_change(p),
        reason=reason, payment_method=x.get("brand", ""))


def _last_change(p: Payment) -> float:
    return p.history[-1].at if p.history else p.created


def _event(namespace: str, item: Mapping[str, Any], at: float) -> Event:
    return Event(id=f"{item['eventCode']}:{item['pspReference']}:{item['success']}",
                 provider=NAME, namespace=namespace, type=str(item["eventCode"]),
                 created=at, render=lambda: wire.notification(item))


def _json(obj: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
          ) -> web.Response:
    # Adyen repeats the pspReference in a header; its SDKs read an error's from there.
    psp = obj.get("pspReference") if isinstance(obj, Mapping) else None
    return web.Response(body=wire.dumps(obj), status=status,
                        headers={"Content-Type": "application/json;charset=UTF-8",
                                 **({"pspReference": psp} if isinstance(psp, str) else {}),
                                 **(headers or {})})


def authenticate(request: web.Request) -> str:
    """The API key (or the web-service user of Basic auth) is the namespace."""
    key = request.headers.get("X-API-Key", "").strip()
    if not key:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
            except ValueError:  # not base64, not UTF-8, or not ASCII at all
                key = ""
    if not key:
        raise AdyenError("HTTP Status Response - Unauthorized", code="000", status=401,
                         error_type="security")
    request[NAMESPACE] = key = tenant(key)
    return key


Run = Callable[[], Awaitable[web.Response]]


class _Api:
    """The request handlers; one instance per app."""

    def __init__(self, provider: AdyenProvider, engine: Engine) -> None:
        self.provider = provider
        self.engine = engine
        self.store = engine.store

    # -- shared steps ----------------------------------------------------------------

    async def _body(self, request: web.Request, contract: str, structure: str
                    ) -> tuple[str, dict[str, Any]]:
        version = int(request.match_info["version"])
        if version < MIN_VERSION:
            raise AdyenError(f"Checkout API v{version} is not imitated: use v{MIN_VERSION} "
                             "or newer in the path, for example /checkout/v71/payments.",
                             code="000", status=404, error_type="configuration")
        ns = authenticate(request)
        raw = await request.read()
        request[RAW_BODY] = raw
        data = wire.validate(wire.parse_json(raw, request.content_type), contract, structure)
        return ns, data

    async def _once(self, request: web.Request, ns: str, data: Mapping[str, Any],
                    run: Run) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        fingerprint = "" if key is None else json_fingerprint(request, data)
        return await idempotent(
            self.store, ns, key, fingerprint, self.engine.clock.now(), run,
            replay_header="idempotency-key-replayed",
            mismatch=lambda: AdyenError(
                f"request already processed or in progress: the Idempotency-Key '{key}' was "
                "first used with a different request. Use a new key for a new request.",
                code="704", status=422),
            in_flight=lambda: AdyenError(
                "request already processed or in progress", code="704", status=409),
            render=lambda exc: self.provider.render_error(exc, request))

    async def _run(self, ns: str, command: Command, request: web.Request, p: Payment,
                   *, amount: int | None = None) -> Result:
        """Execute a command, telling scenarios what they can match on."""
        return await self.engine.execute(self.provider, ns, command, payment_facts(
            request, self.provider.name, p, amount=amount))

    async def _payment(self, ns: str, psp: str, merchant_account: str) -> Payment:
        p = await self.store.get(ns, psp)
        if p is None or p.provider != NAME:
            raise AdyenError(f"Original pspReference required for this operation: no "
                             f"payment {psp!r} is known to this API key.", code="167",
                             param="paymentPspReference")
        if p.extra.get("merchantAccount") != merchant_account:
            raise AdyenError(f"Invalid Merchant Account: payment {psp} belongs to merchant "
                             f"account {p.extra.get('merchantAccount')!r}, not "
                             f"{merchant_account!r}.", code="901", status=403,
                             error_type="security", param="merchantAccount")
        return p

    # -- payments ----------------------------------------------------------------------

    async def create_payment(self, request: web.Request) -> web.Response:
        ns, data = await self._body(request, "payments.request", "PaymentRequest")

        async def run() -> web.Response:
            code = _currency(data["amount"]["currency"])
            native = ((data.get("authenticationData") or {}).get("threeDSRequestData")
                      or {}).get("nativeThreeDS") == "preferred"
            card, outcome, brand = self._card(data["paymentMethod"], native)
            psp = wire.psp_reference()
            token = secrets.token_urlsafe(16)
            extra = data.get("additionalData") or {}
            manual = str(extra.get("manualCapture", "")).lower() == "true" or \
                data.get("captureDelayHours", 0) > 0
            payment = Payment(
                id=psp, namespace=ns, provider=NAME, amount=data["amount"]["value"],
                currency=code, created=self.engine.clock.now(), capture_manual=manual,
                metadata=dict(data.get("metadata") or {}),
                extra={"merchantAccount": data["merchantAccount"],
                       "reference": data["reference"], "returnUrl": data["returnUrl"],
                       "brand": brand, "redirect_token": token, "native": native,
                       "auth_code": f"{secrets.randbelow(1_000_000):06d}",
                       "action_url": f"{request.scheme}://{request.host}/__hosted/3ds/{token}"})
            result = await self._run(ns, Authorize(psp, outcome, {"card": card},
                                                   create=payment), request, payment)
            after = result.payment
            await self.store.link(ns, _ref_key(data["merchantAccount"], data["reference"]), psp)
            if after.status is Status.REQUIRES_ACTION:
                await self.store.link(ns, _token_key(token), psp)
                if after.action != wire.FINGERPRINT:  # the challenge page, once challenged
                    await register_challenge(self.store, token, provider=NAME,
                                             namespace=ns, payment_id=psp)
            return _json(wire.payment_response(after))
        return await self._once(request, ns, data, run)

    def _card(self, method: Mapping[str, Any], native: bool
              ) -> tuple[CardDetails, Outcome, str]:
        """The card of a scheme payment and the outcome its test values ask for."""
        if method.get("type") != "scheme":
            raise AdyenError(f"Payment details are not supported: paymentMethod.type "
                             f"{method.get('type')!r}. This simulator imitates card payments "
                             "(type 'scheme') only.", code="905", param="paymentMethod.type")
        number = digits_only(self._field(method, "number"))
        if not number or not luhn_valid(number) or not 12 <= len(number) <= 19:
            raise AdyenError("Invalid card number", code="101", param="paymentMethod.number")
        month_s, year_s = (self._field(method, "expiryMonth"),
                           self._field(method, "expiryYear"))
        if not (month_s.isdigit() and year_s.isdigit() and 1 <= int(month_s) <= 12
                and len(year_s) in (2, 4)):
            raise AdyenError("Expiry Date Invalid: give expiryMonth as 1-12 and expiryYear "
                             "as four digits (test cards: 03 / 2030).", code="129",
                             param="paymentMethod.expiryMonth")
        month, year = int(month_s), int(year_s)
        year = year + 2000 if year < 100 else year
        cvc = self._field(method, "cvc")
        if cvc and (not cvc.isdigit() or not 3 <= len(cvc) <= 4):
            raise AdyenError("CVC is not the right length", code="103",
                             param="paymentMethod.cvc")
        test = magic.BY_NUMBER.get(number)
        brand = test.brand if test else _brand(number)
        card = CardDetails(brand=brand, last4=number[-4:], bin=number[:6], exp_month=month,
                           exp_year=year, funding=test.funding if test else "credit",
                           country=test.country if test else "NL",
                           fingerprint=card_fingerprint(number, self.engine.fingerprint_key))
        return card, self._outcome(method, test, month, year, cvc, native), brand

    def _outcome(self, method: Mapping[str, Any], test: magic.TestCard | None, month: int,
                 year: int, cvc: str, native: bool) -> Outcome:
        trigger = magic.trigger_for(method.get("holderName"),
                                    method.get("RequestedTestAcquirerResponseCode"))
        if test is not None and (month, year) != magic.TEST_EXPIRY:
            return magic.WRONG_EXPIRY.outcome
        if test is None and is_expired(month, year, self.engine.clock.now_datetime()):
            return magic.WRONG_EXPIRY.outcome
        if test is not None and cvc and cvc != test.cvc:
            return magic.WRONG_CVC.outcome
        then = trigger.outcome if trigger else None
        if test is not None and test.challenge:
            then = Outcome.requires_action(wire.CHALLENGE, then=then)
        if native and test is not None and test.fingerprint:
            # IdentifyShopper first; then the challenge, or a frictionless result
            return Outcome.requires_action(wire.FINGERPRINT, then=then)
        return then or Outcome.approve()

    @staticmethod
    def _field(method: Mapping[str, Any], name: str) -> str:
        """A card field, raw or in Adyen's test encryption (`test_…`)."""
        encrypted_name = _ENCRYPTED[name]
        encrypted = method.get(encrypted_name)
        if encrypted:
            plain = magic.decrypt(str(encrypted))
            if plain is None:
                raise AdyenError(
                    f"Unable to decrypt data: {encrypted_name} is not in the test form. "
                    f"Send '{magic.ENCRYPTED_PREFIX}' followed by the plain value, for "
                    "example \"test_4111111111111111\".", code="174",
                    param=f"paymentMethod.{encrypted_name}")
            return plain.strip()
        return str(method.get(name) or "").strip()

    async def submit_payment_details(self, request: web.Request) -> web.Response:
        ns, data = await self._body(request, "payment_details.request",
                                    "PaymentDetailsRequest")

        async def run() -> web.Response:
            details = data["details"]
            three_ds: Mapping[str, Any] | None = None
            if details.get("threeDSResult"):
                three_ds = _three_ds_result(str(details["threeDSResult"]))
                token = str(three_ds["authorisationToken"])
            elif details.get("redirectResult"):
                token = str(details["redirectResult"])
            else:
                raise AdyenError("Invalid payload provided: give details.redirectResult "
                                 "(from the returnUrl) or details.threeDSResult.",
                                 code="14_018", param="details")
            pid = await self.store.resolve(ns, _token_key(token))
            p = await self.store.get(ns, pid) if pid else None
            if p is None:
                raise AdyenError("Invalid payload provided: this redirectResult or "
                                 "threeDSResult belongs to no payment of this API key.",
                                 code="14_018", param="details")
            if p.status is Status.REQUIRES_ACTION:
                if three_ds is None:
                    raise AdyenError("Invalid payload provided: the shopper has not finished "
                                     "the 3D Secure challenge yet.", code="14_018",
                                     param="details.redirectResult")
                p = (await self._run(ns, _three_ds_step(p, three_ds), request, p)).payment
                if p.status is Status.REQUIRES_ACTION:  # fingerprinted, now challenged
                    await register_challenge(self.store, token, provider=NAME,
                                             namespace=ns, payment_id=p.id)
            return _json(wire.payment_response(p))
        return await self._once(request, ns, data, run)

    async def list_payment_methods(self, request: web.Request) -> web.Response:
        ns, data = await self._body(request, "payment_methods.request",
                                    "PaymentMethodsRequest")
        await self.engine.intercept(self.provider, ns, Listing(""), scenario_facts(
            request, self.provider.name, operation="list"))
        allowed, blocked = data.get("allowedPaymentMethods"), data.get("blockedPaymentMethods")
        if (allowed is not None and "scheme" not in allowed) or "scheme" in (blocked or ()):
            return _json({"paymentMethods": []})
        return _json({"paymentMethods": [{"brands": list(_BRANDS), "name": "Cards",
                                          "type": "scheme"}]})

    # -- modifications -------------------------------------------------------------------

    async def _modify(self, request: web.Request, kind: str, structure: str,
                      command: Callable[[Payment, str, dict[str, Any]], Command | None]
                      ) -> web.Response:
        ns, data = await self._body(request, f"{kind}.request", structure)
        event_code = MODIFICATION_EVENTS[kind]

        async def run() -> web.Response:
            p = await self._payment(ns, request.match_info["psp"], data["merchantAccount"])
            if "amount" in data:
                _currency(data["amount"]["currency"])
            psp = wire.psp_reference()
            await self._apply(ns, request, p, psp, data, command(p, psp, data), event_code)
            return _json(wire.modification_response(kind, p, psp, data), status=201)
        return await self._once(request, ns, data, run)

    async def _apply(self, ns: str, request: web.Request, p: Payment, psp: str,
                     data: Mapping[str, Any], command: Command | None,
                     event_code: str) -> None:
        """Run a modification; its outcome goes to the merchant as a notification."""
        value = (data.get("amount") or {}).get("value", p.amount)
        reason = _refusal_of_modification(p, data, event_code)
        if command is not None and reason is None:
            try:
                await self._run(ns, command, request, p, amount=value)
                return
            except AmountExceeded:
                reason = "Insufficient balance on payment"
            except (InvalidTransition, PaymentError) as exc:
                reason = _state_reason(exc, event_code)
            except NotFound:
                reason = "Original pspReference is invalid for this account"
        item = _modification_item(p, psp, str(data.get("reference", "")), event_code, value,
                                  False, reason or "Modification failed")
        await self._notify(ns, item)

    async def _notify(self, ns: str, item: Mapping[str, Any]) -> None:
        event = _event(ns, item, self.engine.clock.now())
        await self.store.append_event(ns, event)
        self.engine.dispatcher.publish(event, self.provider.webhooks)

    async def capture_payment(self, request: web.Request) -> web.Response:
        return await self._modify(
            request, "captures", "PaymentCaptureRequest",
            lambda p, psp, d: AdyenCapture(p.id, d["amount"]["value"], psp=psp,
                                           reference=d.get("reference", "")))

    async def refund_payment(self, request: web.Request) -> web.Response:
        return await self._modify(
            request, "refunds", "PaymentRefundRequest",
            lambda p, psp, d: AdyenRefund(p.id, refund_id=psp, amount=d["amount"]["value"],
                                          reason=d.get("merchantRefundReason"),
                                          reference=d.get("reference", "")))

    async def cancel_payment(self, request: web.Request) -> web.Response:
        return await self._modify(
            request, "cancels", "PaymentCancelRequest",
            lambda p, psp, d: AdyenCancel(p.id, psp=psp, reference=d.get("reference", "")))

    async def reverse_payment(self, request: web.Request) -> web.Response:
        event_code = MODIFICATION_EVENTS["reversals"]

        def reverse(p: Payment, psp: str, d: dict[str, Any]) -> Command:
            if p.status in (Status.CAPTURED, Status.PARTIALLY_REFUNDED):
                return AdyenRefund(p.id, refund_id=psp, amount=p.amount_refundable,
                                   reference=d.get("reference", ""), event_code=event_code)
            return AdyenCancel(p.id, psp=psp, reference=d.get("reference", ""),
                               event_code=event_code)
        return await self._modify(request, "reversals", "PaymentReversalRequest", reverse)

    async def update_payment_amount(self, request: web.Request) -> web.Response:
        return await self._modify(
            request, "amount_updates", "PaymentAmountUpdateRequest",
            lambda p, psp, d: AdyenAdjust(p.id, d["amount"]["value"], psp=psp,
                                          reference=d.get("reference", "")))

    async def cancel_payment_by_reference(self, request: web.Request) -> web.Response:
        ns, data = await self._body(request, "standalone_cancels.request",
                                    "StandalonePaymentCancelRequest")
        event_code = MODIFICATION_EVENTS["standalone_cancels"]

        async def run() -> web.Response:
            account, ref = data["merchantAccount"], data["paymentReference"]
            psp = wire.psp_reference()
            pid = await self.store.resolve(ns, _ref_key(account, ref))
            p = await self.store.get(ns, pid) if pid else None
            if p is None:
                item = wire.notification_item(
                    psp=psp, original=None, merchant_account=account,
                    merchant_reference=ref, value=0, currency="EUR",
                    event_code=event_code, success=False, at=self.engine.clock.now(),
                    reason=f"No payment with reference {ref!r} for merchant account "
                           f"{account!r}")
                await self._notify(ns, item)
            else:
                cancel: Command = AdyenCancel(p.id, psp=psp,
                                              reference=data.get("reference", ""),
                                              event_code=event_code)
                if p.status in (Status.CAPTURED, Status.PARTIALLY_REFUNDED):
                    cancel = AdyenRefund(p.id, refund_id=psp, amount=p.amount_refundable,
                                         reference=data.get("reference", ""),
                                         event_code=event_code)
                await self._apply(ns, request, p, psp, data, cancel, event_code)
            out = {"merchantAccount": account, "paymentReference": ref, "pspReference": psp,
                   "status": "received"}
            if "reference" in data:
                out["reference"] = data["reference"]
            return _json(out, status=201)
        return await self._once(request, ns, data, run)


_ENCRYPTED = {"number": "encryptedCardNumber", "expiryMonth": "encryptedExpiryMonth",
              "expiryYear": "encryptedExpiryYear", "cvc": "encryptedSecurityCode"}
_BRANDS = ("visa", "mc", "amex", "diners", "discover", "jcb", "cup", "maestro")


def _brand(number: str) -> str:
    from paysandbox.core.cards import detect_brand
    found = detect_brand(number).value
    return {"mastercard": "mc", "american_express": "amex", "unionpay": "cup"}.get(found, found)


def _ref_key(account: str, reference: str) -> str:
    return f"adyen-ref:{account}:{reference}"


def _token_key(token: str) -> str:
    return f"adyen-redirect:{token}"


def _three_ds_result(value: str) -> Mapping[str, Any]:
    """A native 3D Secure 2 step's result: base64 JSON with the action's
    `authorisationToken` and `threeDSCompInd` (fingerprint) or `transStatus` (challenge)."""
    try:
        decoded = orjson.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        decoded = None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("authorisationToken"), str):
        raise AdyenError("Invalid payload provided: details.threeDSResult must be base64 "
                         "JSON with the action's authorisationToken and threeDSCompInd "
                         "(after IdentifyShopper) or transStatus (after ChallengeShopper).",
                         code="14_018", param="details.threeDSResult")
    return decoded


#: A device fingerprint's threeDSCompInd (EMV 3DS): Y completed, N not completed, U the
#: ACS has no 3DS Method.
_COMPLETION = frozenset({"Y", "N", "U"})


def _three_ds_step(p: Payment, result: Mapping[str, Any]) -> Complete:
    """The step a threeDSResult finishes: the fingerprint (leading into a challenge or a
    frictionless result) or the challenge (passed when transStatus is Y)."""
    if p.action == wire.FINGERPRINT:
        if result.get("threeDSCompInd") not in _COMPLETION:
            raise AdyenError("Invalid payload provided: the payment is waiting for the "
                             "device fingerprint (IdentifyShopper), so threeDSResult must "
                             "carry threeDSCompInd (Y, N or U) with the authorisationToken.",
                             code="14_018", param="details.threeDSResult")
        return Complete(p.id, True, chain=True)
    status = result.get("transStatus")
    if not isinstance(status, str) or not status:
        raise AdyenError("Invalid payload provided: the payment is waiting for the 3D Secure "
                         "challenge (ChallengeShopper), so threeDSResult must carry "
                         "transStatus (Y when the shopper passed) with the "
                         "authorisationToken.", code="14_018",
                         param="details.threeDSResult")
    return Complete(p.id, status == "Y")


def _currency(code: str) -> str:
    try:
        return currency(code).code
    except UnknownCurrency:
        raise AdyenError(f"Unsupported currency specified: {code!r}. Use an ISO 4217 code "
                         "such as EUR or USD.", code="138", param="amount.currency") from None


def _refusal_of_modification(p: Payment, data: Mapping[str, Any], event_code: str
                             ) -> str | None:
    """Why Adyen would refuse a modification before trying it."""
    amount = data.get("amount")
    if amount is not None and amount["currency"].upper() != p.currency:
        return "Modification in different currency than authorisation"
    if amount is not None and amount["value"] == 0:
        return "Invalid amount specified"
    return None


def _state_reason(exc: PaymentError, event_code: str) -> str:
    p = getattr(exc, "payment", None)
    status = p.status if isinstance(p, Payment) else None
    if status in (Status.VOIDED, Status.EXPIRED):
        return "Transaction is already cancelled"
    if status is Status.FAILED:
        return "Original transaction was refused"
    if status is Status.REFUNDED:
        return "Transaction is already fully refunded"
    if event_code == "REFUND" and status is Status.AUTHORIZED:
        return "Transaction hasn't been captured"
    if event_code == "CAPTURE" and status is not Status.AUTHORIZED:
        return "Transaction is already captured" if status in (
            Status.CAPTURED, Status.PARTIALLY_REFUNDED) else "Transaction is not authorised"
    if event_code == "CANCELLATION" and status in (Status.CAPTURED,
                                                   Status.PARTIALLY_REFUNDED):
        return "Transaction is already captured"
    return f"Modification not allowed: the payment is {status.value if status else 'unknown'}"


provider = AdyenProvider()
