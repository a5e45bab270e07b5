"""Saved cards and subscriptions: the merchant-initiated side of the reference service.

A customer's first payment with `save_card` leaves a saved card: the acquirer's token
for it, the customer it belongs to there, the card facts (brand, last four, expiry), the
network transaction id (NTI) the scheme gave that first payment, and the raw test card,
kept in memory only and never shown, so that a renewal can fail over to an acquirer that
never saw the card. A subscription renews on the simulator's virtual clock: each
`POST /subscriptions/renew-due` reads `GET /__admin/clock` and charges what is due.

What a renewal does with each answer:
- approved: the subscription stays `active`, the next renewal is one interval later;
- `authentication_required`: `needs_customer_action` (the customer must come back on
  session; no retry, no failover: another acquirer's issuer would ask the same);
- a card that cannot be charged any more (expired, authorization revoked):
  `payment_method_invalid`;
- the acquirer unavailable (5xx, timeout, circuit open) or its issuer unreachable
  (issuer_unavailable, processing_error): the next acquirer for the currency, with the
  raw card and the first payment's NTI; when none approves, the renewal stays due;
- any other decline: `past_due`, renewed again at the next interval.

Bounds: at most MAX_CARDS saved cards and MAX_SUBSCRIPTIONS subscriptions (a save or a
subscription beyond them is refused with 507 before any acquirer is called), the last
MAX_HISTORY renewals per subscription (older ones are dropped, `renewals_total` keeps
counting), and at most MAX_DUE renewals per renew-due call (`more` says some are left).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from paysandbox.examples.payment_service.adapters.base import Card, ProviderResult

MAX_CARDS = 10_000
MAX_SUBSCRIPTIONS = 10_000
MAX_HISTORY = 50
MAX_DUE = 500

ACTIVE, PAST_DUE = "active", "past_due"
NEEDS_CUSTOMER_ACTION, PAYMENT_METHOD_INVALID = "needs_customer_action", "payment_method_invalid"
RENEWABLE = (ACTIVE, PAST_DUE)

#: How a renewal treats a decline: bring the customer back, give up on the card, or try
#: the next acquirer (its issuer or its processing could not be reached).
NEEDS_CUSTOMER, CARD_INVALID, ELSEWHERE = "needs_customer", "card_invalid", "elsewhere"
#: Each acquirer's own decline codes (what its adapter reports as `decline_code`).
DECLINES: dict[str, dict[str, str]] = {
    "stripe": {"authentication_required": NEEDS_CUSTOMER, "expired_card": CARD_INVALID,
               "revocation_of_authorization": CARD_INVALID,
               "issuer_not_available": ELSEWHERE, "processing_error": ELSEWHERE},
    # Adyen's refusalReasonCode: 38 Authentication required, 6 Expired Card,
    # 26 Revocation Of Auth, 9 Issuer Unavailable, 4 Acquirer Error.
    "adyen": {"38": NEEDS_CUSTOMER, "6": CARD_INVALID, "26": CARD_INVALID,
              "9": ELSEWHERE, "4": ELSEWHERE},
    "checkoutcom": {"20154": NEEDS_CUSTOMER, "20054": CARD_INVALID, "200R1": CARD_INVALID,
                    "20091": ELSEWHERE, "20096": ELSEWHERE},
}


class Full(Exception):
    """A bound is reached: answer 507 and say which."""


def decline_kind(provider: str, result: ProviderResult) -> str | None:
    return DECLINES.get(provider, {}).get(str(result.decline_code or ""))


def brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    if number[:1] == "5" or "2221" <= number[:4] <= "2720":
        return "mastercard"
    return "unknown"


@dataclass
class SavedCard:
    id: str
    customer: str
    provider: str                # the acquirer that saved it and holds the token
    token: str
    provider_customer: str | None
    network_transaction_id: str | None
    card: Card                   # the raw test card, in memory only, for failover

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "customer": self.customer, "provider": self.provider,
                "token": self.token, "brand": brand(self.card.number),
                "last4": self.card.number[-4:], "exp_month": self.card.exp_month,
                "exp_year": self.card.exp_year,
                "network_transaction_id": self.network_transaction_id}


@dataclass
class Subscription:
    id: str
    customer: str
    card: str
    amount: int
    currency: str
    interval_s: float
    next_at: float
    status: str = ACTIVE
    renewals_total: int = 0
    renewals: list[dict[str, Any]] = field(default_factory=list)
    #: A renewal is under way: overlapping renew-due calls (several schedulers, the
    #: load test's users) must not charge the same period twice.
    renewing: bool = False

    def record(self, renewal: dict[str, Any]) -> None:
        self.renewals_total += 1
        self.renewals.append(renewal)
        del self.renewals[:-MAX_HISTORY]

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "customer": self.customer, "card": self.card,
                "amount": self.amount, "currency": self.currency,
                "interval_s": self.interval_s, "next_at": self.next_at,
                "status": self.status, "renewals_total": self.renewals_total,
                "renewals": list(self.renewals)}


class Wallet:
    """Saved cards, the customers they made at each acquirer, and subscriptions."""

    def __init__(self) -> None:
        self.cards: dict[str, SavedCard] = {}
        self.subscriptions: dict[str, Subscription] = {}
        #: (our customer id, acquirer) -> the customer there (Stripe cus_…, Adyen's
        #: shopperReference, Checkout.com cus_…): later saves reuse it. At most one per
        #: saved card, so bounded by MAX_CARDS.
        self.customers: dict[tuple[str, str], str] = {}

    def check_room(self) -> None:
        if len(self.cards) >= MAX_CARDS:
            raise Full(f"this service keeps at most {MAX_CARDS} saved cards; pay without "
                       "save_card, or restart it")

    def save(self, customer: str, provider: str, result: ProviderResult, card: Card
             ) -> SavedCard:
        """Keep a card the acquirer saved. Not refused here: the payment went through, so
        the card is kept even if saves made at the same time pass the cap (by at most
        the saves in flight when it was reached)."""
        assert result.token
        saved = SavedCard(f"card_{secrets.token_hex(8)}", customer, provider, result.token,
                          result.customer, result.network_transaction_id, card)
        self.cards[saved.id] = saved
        if result.customer:
            self.customers[(customer, provider)] = result.customer
        return saved

    def subscribe(self, body: Any, now: float) -> Subscription:
        """A subscription from a POST /subscriptions body; ValueError names the field."""
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        card = self.cards.get(str(body.get("card")))
        if card is None:
            raise ValueError("card: the id of a saved card (`saved_card` of a payment made "
                             "with save_card: true)")
        customer = body.get("customer")
        if customer is not None and customer != card.customer:
            raise ValueError(f"customer: card {card.id} belongs to another customer")
        amount, interval = body.get("amount"), body.get("interval_s")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("amount: a positive integer in minor units")
        currency = body.get("currency")
        if not isinstance(currency, str) or len(currency) != 3:
            raise ValueError("currency: a three-letter ISO 4217 code, e.g. 'usd'")
        if not isinstance(interval, int | float) or isinstance(interval, bool) \
                or not 1 <= interval <= 10 * 366 * 86400:
            raise ValueError("interval_s: virtual seconds between renewals, from 1 to ten "
                             "years (2592000 = 30 days)")
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise Full(f"this service keeps at most {MAX_SUBSCRIPTIONS} subscriptions")
        sub = Subscription(f"sub_{secrets.token_hex(8)}", card.customer, card.id, amount,
                           currency.lower(), float(interval), now + float(interval))
        self.subscriptions[sub.id] = sub
        return sub

    def due(self, now: float) -> list[Subscription]:
        found = (s for s in self.subscriptions.values()
                 if s.status in RENEWABLE and s.next_at <= now and not s.renewing)
        return sorted(found, key=lambda s: s.next_at)
