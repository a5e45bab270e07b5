"""The reference payment service: an aiohttp app in front of several acquirers.

    POST /payments                  {"amount": 1999, "currency": "usd", "method": "card",
                                     "card": {"number", "exp_month", "exp_year", "cvc"},
                                     "country": "US", "capture": true, "customer": {...}}
                                    or an asynchronous method: "method": "ideal" |
                                     "bancontact" | "pix" | "oxxo" | "upi" | "mpesa"
    GET  /payments/{id}             (re-reads the provider while an action is pending)
    POST /payments/{id}/capture     {"amount": optional}
    POST /payments/{id}/refund      {"amount": optional}
    POST /webhooks/{provider}       signed provider webhooks
    POST /reconcile                 {"max_lines": optional}: each acquirer's settlement
                                    (Stripe, Adyen) against our books (reconcile.py)
    GET  /reconciliation            the last result
    GET  /health, GET /stats        breaker states, counts per provider and status
    POST /payments with "save_card": true and "customer": {"id" or "email"}: the card is
                                    saved at the acquirer; the payment names `saved_card`
    GET  /cards/{id}                a saved card (token, brand, last4, expiry, NTI)
    POST /subscriptions             {"card": saved card id, "amount", "currency",
                                     "interval_s": virtual seconds, "customer": optional}
    GET  /subscriptions/{id}        status, renewals and each renewal's attempts
    POST /subscriptions/renew-due   renew what is due by the simulator's virtual clock

Each payment goes to the first acquirer the router names whose circuit is closed;
transport failures are retried with the same idempotency key, then the next acquirer
is tried with a new one. A decline is an answer, not a failure: it is never failed over.
An asynchronous method answers `pending` with `next_action` (what the shopper needs);
the provider's webhook later moves it to `captured`, `failed`, `canceled` or `expired`.

A dispute webhook is recorded on its payment (`disputes`); the service answers it at
once with the evidence it has, through the provider's API, and books the outcome when
the provider closes it: won, lost, or expired (closed lost without an answer, or after
the deadline refused ours). `/stats` counts disputes by provider, reason and outcome.
"""

from __future__ import annotations

import asyncio
import csv
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from paysandbox.examples.payment_service import reconcile as recon
from paysandbox.examples.payment_service.adapters.adyen import AdyenAdapter
from paysandbox.examples.payment_service.adapters.base import (
    AUTHORIZED,
    CANCELED,
    CAPTURED,
    DECLINED,
    DISPUTE_LOST,
    DISPUTE_OPEN,
    DISPUTE_UNDER_REVIEW,
    DISPUTE_WON,
    EXPIRED,
    FAILED,
    PARTIALLY_REFUNDED,
    PENDING,
    REFUNDED,
    REQUIRES_ACTION,
    Adapter,
    BadSignature,
    Card,
    Defends,
    DisputeNotice,
    PaymentRequest,
    ProviderResult,
    ReadsDisputes,
    Rejected,
    Unavailable,
    WebhookUpdate,
)
from paysandbox.examples.payment_service.adapters.checkoutcom import CheckoutcomAdapter
from paysandbox.examples.payment_service.adapters.daraja import DarajaAdapter
from paysandbox.examples.payment_service.adapters.mercadopago import MercadopagoAdapter
from paysandbox.examples.payment_service.adapters.mollie import MollieAdapter
from paysandbox.examples.payment_service.adapters.razorpay import RazorpayAdapter
from paysandbox.examples.payment_service.adapters.stripe import StripeAdapter
from paysandbox.examples.payment_service.breaker import CircuitBreaker
from paysandbox.examples.payment_service.config import ServiceConfig
from paysandbox.examples.payment_service.renewals import (
    Clock,
    renew_due,
    simulator_clock,
    wall_clock,
)
from paysandbox.examples.payment_service.router import NoRoute, Router
from paysandbox.examples.payment_service.subscriptions import Full, Wallet

T = TypeVar("T")
SERVICE: web.AppKey[PaymentService] = web.AppKey("service")
SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)

#: How far along a payment is; a late or duplicated webhook never moves it back.
_RANK = {PENDING: 0, REQUIRES_ACTION: 0, AUTHORIZED: 1, DECLINED: 5, CANCELED: 5, FAILED: 5,
         EXPIRED: 5, CAPTURED: 2, PARTIALLY_REFUNDED: 3, REFUNDED: 4}
_FINAL = (DECLINED, CANCELED, FAILED, EXPIRED, REFUNDED)
#: The asynchronous methods: pending until the provider's webhook settles them.
ASYNC_METHODS = ("ideal", "bancontact", "pix", "oxxo", "upi", "mpesa")
_HTTP = {DECLINED: 402, FAILED: 503}
_DISPUTE_RANK = {DISPUTE_OPEN: 0, DISPUTE_UNDER_REVIEW: 1, DISPUTE_WON: 2, DISPUTE_LOST: 2}


class BadInput(Exception):
    pass


def build_adapter(name: str, session: aiohttp.ClientSession, config: ServiceConfig) -> Adapter:
    p = config.providers[name]
    common: dict[str, Any] = {"webhook_secret": p.webhook_secret, "timeout": config.timeout_s}
    if name == "stripe":
        return StripeAdapter(session, p.base_url, p.api_key, **common)
    if name == "adyen":
        return AdyenAdapter(session, p.base_url, p.api_key,
                            merchant_account=p.merchant_account, **common)
    if name == "checkoutcom":
        return CheckoutcomAdapter(session, p.base_url, p.api_key, **common)
    if name == "mollie":
        return MollieAdapter(session, p.base_url, p.api_key, **common)
    if name == "mercadopago":
        return MercadopagoAdapter(session, p.base_url, p.api_key, **common)
    if name == "razorpay":
        return RazorpayAdapter(session, p.base_url, p.api_key, api_secret=p.api_secret,
                               **common)
    if name == "daraja":
        return DarajaAdapter(session, p.base_url, p.api_key, api_secret=p.api_secret,
                             shortcode=p.shortcode, passkey=p.passkey, **common)
    raise ValueError(f"no adapter for provider {name!r}")


class PaymentService:
    def __init__(self, config: ServiceConfig, adapters: Mapping[str, Adapter], *,
                 router: Router | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 now: Clock = wall_clock) -> None:
        self.config, self.adapters = config, dict(adapters)
        self.router = router or Router(self.adapters)
        self.breakers = {n: CircuitBreaker(n, config.breaker_threshold, config.breaker_reset_s,
                                           clock) for n in self.adapters}
        self.payments: dict[str, dict[str, Any]] = {}
        self.by_reference: dict[tuple[str, str], str] = {}
        self.idempotency: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        #: How providers reach our webhook receivers (set once the port is known).
        self.public_url = config.public_url
        #: Saved cards and subscriptions; `now` is the clock renewals fall due by (the
        #: simulator's virtual clock when the service runs against one).
        self.wallet, self.now = Wallet(), now
        #: The contracted pricing per acquirer that settlement is checked against.
        self.pricing: dict[str, recon.Pricing] = dict(recon.PRICING)
        self.last_reconciliation: dict[str, Any] | None = None

    # -- resilience ------------------------------------------------------------------

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self.config.retries + 1):
            try:
                return await call()
            except Unavailable:
                if attempt == self.config.retries:
                    raise
                delay = self.config.backoff_s * 2 ** attempt
                await asyncio.sleep(delay * (0.5 + random.random()))  # full jitter-ish
        raise AssertionError("unreachable")

    async def on(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        """A call to one provider, through its breaker."""
        breaker = self.breakers[name]
        try:
            result = await self._with_retries(call)
        except Unavailable:
            breaker.failure()
            raise
        except Exception:
            breaker.success()  # it answered: the provider is up, the request was bad
            raise
        breaker.success()
        return result

    # -- payments --------------------------------------------------------------------

    async def create(self, body: Mapping[str, Any], idempotency_key: str | None
                     ) -> tuple[int, dict[str, Any]]:
        if idempotency_key and idempotency_key in self.idempotency:
            p = self.payments[self.idempotency[idempotency_key]]
            return _HTTP.get(p["status"], 201), p
        request, method = parse_payment(body)
        candidates = self.router.candidates(method, request.currency, request.country)
        if request.save_card:
            self.wallet.check_room()
        p: dict[str, Any] = {
            "id": request.reference, "status": FAILED, "amount": request.amount,
            "currency": request.currency, "method": method, "provider": None,
            "provider_reference": None, "action_url": None, "next_action": None,
            "decline_code": None,
            "captured": 0, "refunded": 0, "attempts": [], "created": time.time(),
            "email": request.email, "charged_back": 0, "disputes": {},
            "saved_card": None, "settlement_key": None, "card_country": None,
            "card_funding": None, "captured_at": None,
            "refunds": [],
        }
        if idempotency_key:
            self.idempotency[idempotency_key] = p["id"]
        self.payments[p["id"]] = p
        for name in candidates:
            if not self.breakers[name].allow():
                p["attempts"].append({"provider": name, "outcome": "skipped: circuit open"})
                continue
            key = f"{p['id']}-{name}"
            adapter = self.adapters[name]
            attempt = replace(request, notify_url=f"{self.public_url}/webhooks/{name}",
                              provider_customer=self.wallet.customers.get(
                                  (request.customer_id or "", name)))
            try:
                result = await self.on(name, lambda a=adapter, k=key, r=attempt:
                                        a.authorize(r, k))
            except Unavailable as exc:
                p["attempts"].append({"provider": name, "outcome": f"unavailable: {exc}"})
                continue
            except Rejected as exc:
                p["attempts"].append({"provider": name, "outcome": f"rejected: {exc}"})
                p["provider"] = name
                break
            p["attempts"].append({"provider": name, "outcome": result.status})
            self._apply(p, name, result)
            if request.save_card and result.status in (AUTHORIZED, CAPTURED):
                self._save(p, request, name, result)
            if result.status == CAPTURED:
                p["captured"] = p["amount"]
                p["captured_at"] = result.raw.get("created") if name == "stripe" else None
            break
        if p["status"] == FAILED and p["provider"] is None:
            p["error"] = "every acquirer for this payment is unavailable; retry later"
        self.counts[f"{p['provider'] or 'none'}:{p['status']}"] += 1
        return _HTTP.get(p["status"], 201), p

    def _save(self, p: dict[str, Any], request: PaymentRequest, name: str,
              result: ProviderResult) -> None:
        if not result.token:
            p["save_error"] = f"{name} approved the payment but returned no saved card"
            return
        saved = self.wallet.save(request.customer_id or "", name, result,
                                 request.card_details)
        p["saved_card"] = saved.id
        p["network_transaction_id"] = saved.network_transaction_id

    def _apply(self, p: dict[str, Any], name: str, result: ProviderResult) -> None:
        p["provider"], p["status"] = name, result.status
        if result.reference:
            p["provider_reference"] = result.reference
            self.by_reference[(name, result.reference)] = p["id"]
        p["action_url"] = result.action_url if result.status in (REQUIRES_ACTION,
                                                                 PENDING) else None
        p["next_action"] = dict(result.next_action) if result.status == PENDING \
            and result.next_action else None
        p["decline_code"] = result.decline_code
        p["settlement_key"], p["card_country"], p["card_funding"] = \
            settlement_key(name, result.raw)

    def get(self, payment_id: str) -> dict[str, Any]:
        if payment_id not in self.payments:
            raise web.HTTPNotFound(text=f"no payment {payment_id}")
        return self.payments[payment_id]

    async def refresh(self, payment_id: str) -> dict[str, Any]:
        p = self.get(payment_id)
        if p["status"] in (REQUIRES_ACTION, PENDING) and p["provider_reference"]:
            adapter = self.adapters[p["provider"]]
            try:
                found = await self.on(p["provider"],
                                       lambda: adapter.retrieve(p["provider_reference"]))
            except (Unavailable, Rejected):
                return p  # keep what we know; a webhook may still tell
            if found is not None and self.update(p, found.status, found.decline_code) \
                    and p["status"] == CAPTURED:
                await self._captured(p, found.raw)
        return p

    def update(self, p: dict[str, Any], status: str, decline_code: str | None = None
               ) -> bool:
        if p["status"] == status or _RANK.get(status, 0) < _RANK.get(p["status"], 0):
            return False
        if p["status"] in _FINAL:
            return False
        p["status"] = status
        if status == CAPTURED and not p["captured"]:
            p["captured"] = p["amount"]
        if status not in (REQUIRES_ACTION, PENDING):
            p["action_url"] = p["next_action"] = None
        if status in (FAILED, DECLINED, EXPIRED, CANCELED) and decline_code:
            p["decline_code"] = decline_code
        return True

    async def capture(self, payment_id: str, amount: int | None, key: str | None
                      ) -> tuple[int, dict[str, Any]]:
        p = self.get(payment_id)
        if p["status"] != AUTHORIZED:
            return 409, {"error": f"payment {payment_id} is {p['status']}; only an authorized "
                                  "payment can be captured"}
        amount = amount or p["amount"]
        adapter = self.adapters[p["provider"]]
        key = key or f"{payment_id}-capture"
        done: list[Any] = []

        async def call() -> Any:
            done.append(await adapter.capture(p["provider_reference"], amount,
                                              p["currency"], key))
        failed = await self._modify(p, "capture", call)
        if failed is not None:
            return failed
        p["status"], p["captured"] = CAPTURED, amount
        await self._captured(p, done[-1].raw if done else None)
        return 200, p

    async def _captured(self, p: dict[str, Any], raw: Mapping[str, Any] | None) -> None:
        """A payment captured after it was made (a later capture, a challenge or an
        asynchronous method finished): what names its capture in the acquirer's
        settlement data, from the provider's payment object `raw` (read from the
        provider when None), and when it was captured, by the clock the service runs on.
        Without it reconciliation would look for the capture under the wrong name."""
        if p["provider"] not in self.pricing:  # no settlement data to reconcile with
            return
        if p["settlement_key"] is None and p["provider_reference"]:
            if raw is None:
                adapter = self.adapters[p["provider"]]
                try:
                    found = await self.on(p["provider"],
                                          lambda: adapter.retrieve(p["provider_reference"]))
                except (Unavailable, Rejected):
                    found = None  # reconciliation then names it by its reference
                raw = found.raw if found is not None else {}
            key, country, funding = settlement_key(p["provider"], raw)
            if key is not None:
                p["settlement_key"], p["card_country"], p["card_funding"] = \
                    key, country, funding
        if p["captured_at"] is None and p["provider"] == "stripe":
            p["captured_at"] = int(await self.now())

    async def refund(self, payment_id: str, amount: int | None, key: str | None
                     ) -> tuple[int, dict[str, Any]]:
        p = self.get(payment_id)
        if p["status"] not in (CAPTURED, PARTIALLY_REFUNDED):
            return 409, {"error": f"payment {payment_id} is {p['status']}; only a captured "
                                  "payment can be refunded"}
        left = p["captured"] - p["refunded"]
        amount = amount or left
        if amount > left:
            return 400, {"error": f"only {left} is left to refund"}
        adapter = self.adapters[p["provider"]]
        key = key or f"{payment_id}-refund-{p['refunded']}"
        done: list[Any] = []

        async def call() -> Any:
            done.append(await adapter.refund(p["provider_reference"], amount,
                                             p["currency"], key))
        failed = await self._modify(p, "refund", call)
        if failed is not None:
            return failed
        raw = done[-1].raw if done and isinstance(done[-1], ProviderResult) else {}
        p["refunds"].append({"id": str(raw.get("id") or raw.get("pspReference") or ""),
                             "amount": amount, "at": raw.get("created")})
        p["refunded"] += amount
        p["status"] = REFUNDED if p["refunded"] >= p["captured"] else PARTIALLY_REFUNDED
        return 200, p

    async def _modify(self, p: dict[str, Any], action: str,
                      call: Callable[[], Awaitable[Any]]) -> tuple[int, dict[str, Any]] | None:
        """A capture or refund at the payment's provider: None when it went through,
        otherwise the answer the client gets."""
        try:
            await self.on(p["provider"], call)
        except Unavailable as exc:
            return 503, {"error": f"{p['provider']} is unavailable ({exc}); retry with the "
                                  "same Idempotency-Key"}
        except Rejected as exc:
            return 502, {"error": f"{p['provider']} refused the {action}: {exc}"}
        return None

    async def webhook(self, provider: str, headers: Mapping[str, str], body: bytes,
                      query: Mapping[str, str] | None = None) -> int:
        """Verify and apply; the number of payments it changed. A webhook that only names
        the payment (Mollie, Mercado Pago) is followed by a read of it from the provider:
        for an unsigned one (Mollie) that read is the verification."""
        adapter = self.adapters[provider]
        try:
            updates = adapter.verify_webhook(headers, body, query or {})
        except BadSignature:
            self.counts[f"webhook:{provider}:bad_signature"] += 1
            raise
        self.counts[f"webhook:{provider}:verified"] += 1
        changed = 0
        for u in updates:
            if isinstance(adapter, ReadsDisputes):
                named = await self.on(provider, lambda u=u: adapter.disputes_named(u))
                for ref, notice in named:
                    known = self.by_reference.get((provider, ref))
                    if known is not None:
                        changed += await self.dispute(provider, self.payments[known], notice)
            pid = self.by_reference.get((provider, u.reference))
            if pid is None:
                continue
            if u.dispute is not None:
                changed += await self.dispute(provider, self.payments[pid], u.dispute)
                continue
            if u.status is None:
                found = await self.on(provider, lambda r=u.reference: adapter.retrieve(r))
                if found is None:
                    continue
                u = WebhookUpdate(u.reference, found.status, u.event, found.decline_code)
            if u.status and self.update(self.payments[pid], u.status, u.decline_code):
                changed += 1
                if u.status == CAPTURED:
                    await self._captured(self.payments[pid], None)
        return changed

    async def dispute(self, provider: str, p: dict[str, Any], notice: DisputeNotice) -> bool:
        """Record a dispute the provider told us of, answer it with our evidence while it
        needs a response, and book its outcome once it is closed; a duplicate or late
        webhook changes nothing booked. Unavailable (the evidence could not be sent)
        propagates, so that the provider retries the webhook."""
        d = p["disputes"].get(notice.dispute_id)
        if d is None:
            d = p["disputes"][notice.dispute_id] = {
                "id": notice.dispute_id, "reason": notice.reason, "amount": notice.amount,
                "status": notice.status, "due_by": notice.due_by, "answered": False,
                "answering": False, "outcome": None}
            self.counts[f"dispute:{provider}:{notice.reason}:opened"] += 1
        if d["outcome"] is not None:
            return False
        d["answered"] = d["answered"] or notice.answered
        if notice.status in (DISPUTE_WON, DISPUTE_LOST):
            outcome = notice.status if d["answered"] or notice.status == DISPUTE_WON \
                else "expired"
            d["status"], d["outcome"] = notice.status, outcome
            if notice.status == DISPUTE_LOST:
                p["charged_back"] += d["amount"]
            self.counts[f"dispute:{provider}:{d['reason']}:{outcome}"] += 1
            return True
        if _DISPUTE_RANK[notice.status] > _DISPUTE_RANK[d["status"]]:
            d["status"] = notice.status
        adapter = self.adapters[provider]
        if d["status"] == DISPUTE_OPEN and not (d["answered"] or d["answering"]) \
                and isinstance(adapter, Defends):
            d["answering"] = True  # its other webhooks (funds withdrawn) arrive meanwhile
            try:
                status = await self.on(provider, lambda: adapter.submit_evidence(
                    notice.dispute_id, adapter.evidence_for(p)))
            except Rejected as exc:  # closed before we answered: its close books it
                d["refused"] = str(exc)
            else:
                d["answered"] = True
                if d["outcome"] is None and \
                        _DISPUTE_RANK[status] > _DISPUTE_RANK[d["status"]]:
                    d["status"] = status
            finally:
                d["answering"] = False
        return True

    def expected(self, provider: str) -> list[recon.Expected]:
        """The captures and refunds of ours the acquirer should report, one line each."""
        out = []
        for p in self.payments.values():
            if p["provider"] != provider or not p["captured"]:
                continue
            ref = p["provider_reference"]
            out.append(recon.Expected(p["settlement_key"] or ref, "charge", ref, p["id"],
                                      p["captured"], p["currency"], p["card_country"],
                                      p["card_funding"] or "credit", _unix(p["captured_at"])))
            out += [recon.Expected(r["id"], "refund", r["id"], p["id"], r["amount"],
                                   p["currency"], at=_unix(r["at"]))
                    for r in p["refunds"] if r["id"]]
        return out

    async def reconcile(self, session: aiohttp.ClientSession, *,
                        max_lines: int = recon.MAX_LINES) -> dict[str, Any]:
        """Read each acquirer's settlement data (Stripe, Adyen) and compare it with our
        books; the result is kept for GET /reconciliation."""
        now = int(await self.now())
        results = []
        for name, pricing in self.pricing.items():
            if name not in self.adapters:
                continue
            s = self.config.providers[name]
            try:
                if name == "stripe":
                    report = await recon.read_stripe(session, s.base_url, s.api_key,
                                                     max_lines=max_lines)
                else:
                    report = await recon.read_adyen(
                        session, s.reports_url, s.merchant_account, s.report_user,
                        s.report_password or s.api_key, max_lines=max_lines)
            except (recon.ReadError, aiohttp.ClientError, TimeoutError, KeyError,
                    ValueError, TypeError, csv.Error) as exc:
                results.append({"provider": name, "error": f"{type(exc).__name__}: {exc}"})
                continue
            found = recon.compare(name, self.expected(name), report, pricing, now)
            results.append(recon.view(name, found, report))
        self.last_reconciliation = {"at": now, "max_lines": max_lines,
                                    "acquirers": results}
        return self.last_reconciliation

    def stats(self) -> dict[str, Any]:
        return {"breakers": {n: b.snapshot() for n, b in self.breakers.items()},
                "counts": dict(self.counts), "payments": len(self.payments),
                "saved_cards": len(self.wallet.cards),
                "subscriptions": len(self.wallet.subscriptions)}


def _unix(value: Any) -> int | None:
    """A provider's unix time (Stripe's `created`), or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def settlement_key(provider: str, raw: Mapping[str, Any]
                   ) -> tuple[str | None, str | None, str | None]:
    """How an acquirer's settlement data names this payment's capture (Stripe: the
    charge, `latest_charge`; Adyen: the pspReference), and the card's issuing country
    and funding (credit, debit, …) where the acquirer said them: what its fee depends on."""
    if provider == "stripe":
        charge = raw.get("latest_charge")
        if isinstance(charge, Mapping):
            card = (charge.get("payment_method_details") or {}).get("card") or {}
            return charge.get("id"), card.get("country"), card.get("funding")
        return (charge if isinstance(charge, str) else None), None, None
    if provider == "adyen":
        extra = raw.get("additionalData") or {}
        funding = extra.get("fundingSource")
        return raw.get("pspReference"), extra.get("issuerCountry"), \
            funding.lower() if isinstance(funding, str) else None
    return None, None, None


def parse_payment(body: Mapping[str, Any]) -> tuple[PaymentRequest, str]:
    """Validate a POST /payments body; BadInput names the field."""
    if not isinstance(body, Mapping):
        raise BadInput("the body must be a JSON object")
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise BadInput("amount: a positive integer in minor units (1999 = 19.99)")
    currency = body.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise BadInput("currency: a three-letter ISO 4217 code, e.g. 'usd'")
    method = str(body.get("method", "card")).lower()
    customer = body.get("customer") or {}
    if not isinstance(customer, Mapping):
        raise BadInput("customer: an object such as {\"email\": …, \"phone\": …}")
    card = _card(body.get("card")) if method == "card" else None
    if method != "card":
        _check_async(method, amount, body, customer)
    upi = body.get("upi") if isinstance(body.get("upi"), Mapping) else {}
    ideal = body.get("ideal") if isinstance(body.get("ideal"), Mapping) else {}
    country = body.get("country")
    save = body.get("save_card", False)
    if not isinstance(save, bool):
        raise BadInput("save_card: true to keep the card for later charges, or leave it out")
    customer_id = customer.get("id") or customer.get("email")
    if save and (method != "card" or not isinstance(customer_id, str) or not customer_id):
        raise BadInput("save_card: needs method 'card' and a customer {\"id\": …} or "
                       "{\"email\": …} the card belongs to")
    request = PaymentRequest(
        reference=f"pay_{secrets.token_hex(10)}", amount=amount, currency=currency.lower(),
        card=card, capture=bool(body.get("capture", True)),
        return_url=str(body.get("return_url") or "http://127.0.0.1/return"),
        country=str(country).upper() if country else None,
        email=customer.get("email"), method=method,
        phone=str(customer["phone"]) if customer.get("phone") else None,
        vpa=upi.get("vpa"), issuer=ideal.get("issuer"), name=customer.get("name"),
        save_card=save, customer_id=str(customer_id) if customer_id else None)
    return request, method


def _card(card: Any) -> Card:
    if not isinstance(card, Mapping):
        raise BadInput("card: {number, exp_month, exp_year, cvc} for method 'card'; or "
                       f"choose an asynchronous method: {', '.join(ASYNC_METHODS)}")
    try:
        return Card(str(card["number"]).replace(" ", ""), int(card["exp_month"]),
                    int(card["exp_year"]), str(card.get("cvc", "123")),
                    str(card.get("holder") or "Test Shopper"))
    except (KeyError, ValueError, TypeError):
        raise BadInput("card: needs number, exp_month and exp_year") from None


def _check_async(method: str, amount: int, body: Mapping[str, Any],
                 customer: Mapping[str, Any]) -> None:
    """What each asynchronous method needs, named before any provider is called."""
    if method not in ASYNC_METHODS:
        raise BadInput(f"method: 'card' or one of {', '.join(ASYNC_METHODS)}")
    if method in ("pix", "oxxo", "upi") and not customer.get("email"):
        raise BadInput(f"customer.email: {method} needs the payer's email")
    if method in ("upi", "mpesa") and not str(customer.get("phone") or "").isdecimal():
        raise BadInput(f"customer.phone: {method} needs the payer's phone number, digits "
                       "only (M-Pesa: 2547XXXXXXXX)")
    if method == "upi":
        upi = body.get("upi")
        if not isinstance(upi, Mapping) or "@" not in str(upi.get("vpa", "")):
            raise BadInput("upi.vpa: the payer's UPI id, e.g. {\"vpa\": \"name@okbank\"}")
    if method == "mpesa" and amount % 100:
        raise BadInput("amount: M-Pesa takes whole shillings (a multiple of 100 cents)")


# -- HTTP ------------------------------------------------------------------------------

def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise BadInput("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    return data


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except BadInput as exc:
        return _json({"error": str(exc)}, 400)
    except NoRoute as exc:
        return _json({"error": str(exc)}, 422)
    except Full as exc:
        return _json({"error": str(exc)}, 507)
    except web.HTTPNotFound as exc:
        return _json({"error": exc.text or "not found"}, 404)


def _amount(body: Mapping[str, Any]) -> int | None:
    amount = body.get("amount")
    if amount is not None and (not isinstance(amount, int) or amount <= 0):
        raise BadInput("amount: a positive integer in minor units, or leave it out")
    return amount


async def create_payment(request: web.Request) -> web.Response:
    status, body = await request.app[SERVICE].create(
        await _body(request), request.headers.get("Idempotency-Key"))
    return _json(body, status)


async def get_payment(request: web.Request) -> web.Response:
    return _json(await request.app[SERVICE].refresh(request.match_info["id"]))


async def capture_payment(request: web.Request) -> web.Response:
    body = await _body(request)
    status, out = await request.app[SERVICE].capture(
        request.match_info["id"], _amount(body), request.headers.get("Idempotency-Key"))
    return _json(out, status)


async def refund_payment(request: web.Request) -> web.Response:
    body = await _body(request)
    status, out = await request.app[SERVICE].refund(
        request.match_info["id"], _amount(body), request.headers.get("Idempotency-Key"))
    return _json(out, status)


async def receive_webhook(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    provider = request.match_info["provider"]
    if provider not in service.adapters:
        raise web.HTTPNotFound(text=f"no webhook receiver for {provider}")
    raw = await request.read()
    try:
        await service.webhook(provider, request.headers, raw, request.query)
    except BadSignature as exc:
        return _json({"error": f"signature: {exc}"}, 401)
    except (ValueError, KeyError, TypeError, AttributeError):
        return _json({"error": "the webhook body is not the provider's JSON"}, 400)
    except (Unavailable, Rejected) as exc:
        # We could not read the payment back: fail, so that the provider retries.
        return _json({"error": f"could not read the payment from {provider}: {exc}"}, 503)
    text, ctype = service.adapters[provider].webhook_ack()
    return web.Response(text=text, content_type=ctype)


async def create_subscription(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    body = await _body(request)
    try:
        now = await service.now()
    except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
        return _json({"error": f"the clock renewals fall due by could not be read "
                               f"(GET /__admin/clock): {type(exc).__name__}: {exc}"}, 503)
    try:
        sub = service.wallet.subscribe(body, now)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    return _json(sub.view(), 201)


async def get_subscription(request: web.Request) -> web.Response:
    sub = request.app[SERVICE].wallet.subscriptions.get(request.match_info["id"])
    if sub is None:
        raise web.HTTPNotFound(text=f"no subscription {request.match_info['id']}")
    return _json(sub.view())


async def renew_due_subscriptions(request: web.Request) -> web.Response:
    try:
        return _json(await renew_due(request.app[SERVICE]))
    except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
        return _json({"error": f"the clock renewals fall due by could not be read "
                               f"(GET /__admin/clock): {type(exc).__name__}: {exc}; "
                               "nothing was renewed, call again"}, 503)


async def get_card(request: web.Request) -> web.Response:
    card = request.app[SERVICE].wallet.cards.get(request.match_info["id"])
    if card is None:
        raise web.HTTPNotFound(text=f"no saved card {request.match_info['id']}")
    return _json(card.view())


async def run_reconciliation(request: web.Request) -> web.Response:
    body = await _body(request)
    bound = body.get("max_lines", recon.MAX_LINES)
    if not isinstance(bound, int) or isinstance(bound, bool) or not 1 <= bound <= 50000:
        raise BadInput("max_lines: report lines to read at most, 1 to 50000 "
                       f"(default {recon.MAX_LINES})")
    service = request.app[SERVICE]
    try:
        return _json(await service.reconcile(request.app[SESSION], max_lines=bound))
    except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
        return _json({"error": f"the clock could not be read (GET /__admin/clock): "
                               f"{type(exc).__name__}: {exc}; call again"}, 503)


async def get_reconciliation(request: web.Request) -> web.Response:
    last = request.app[SERVICE].last_reconciliation
    if last is None:
        raise web.HTTPNotFound(text="no reconciliation yet: POST /reconcile")
    return _json(last)


async def health(request: web.Request) -> web.Response:
    return _json({"status": "ok", "providers": sorted(request.app[SERVICE].adapters)})


async def stats(request: web.Request) -> web.Response:
    return _json(request.app[SERVICE].stats())


def create_app(config: ServiceConfig) -> web.Application:
    app = web.Application(middlewares=[errors])

    async def lifecycle(app: web.Application) -> Any:
        connector = aiohttp.TCPConnector(limit=256, limit_per_host=128)
        async with aiohttp.ClientSession(connector=connector) as session:
            adapters = {n: build_adapter(n, session, config) for n in config.providers}
            now = simulator_clock(session, config.simulator_url, config.timeout_s) \
                if config.simulator_url else wall_clock
            app[SERVICE] = PaymentService(config, adapters, now=now)
            app[SESSION] = session
            yield

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/payments", create_payment)
    app.router.add_get("/payments/{id}", get_payment)
    app.router.add_post("/payments/{id}/capture", capture_payment)
    app.router.add_post("/payments/{id}/refund", refund_payment)
    app.router.add_post("/webhooks/{provider}", receive_webhook)
    app.router.add_post("/subscriptions", create_subscription)
    app.router.add_post("/subscriptions/renew-due", renew_due_subscriptions)
    app.router.add_get("/subscriptions/{id}", get_subscription)
    app.router.add_get("/cards/{id}", get_card)
    app.router.add_post("/reconcile", run_reconciliation)
    app.router.add_get("/reconciliation", get_reconciliation)
    app.router.add_get("/health", health)
    app.router.add_get("/stats", stats)
    return app
