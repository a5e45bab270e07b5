"""What the service needs from an acquirer, and the errors an adapter raises.

Adapters speak each provider's public HTTP API with aiohttp (no SDKs: the SDKs block,
and the service is asyncio). They turn the provider's answer into a `ProviderResult`,
and transport trouble into `Unavailable` (retry, then fail over) or `Rejected` (a bug
on our side: neither retry nor fail over).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import aiohttp

# The service's own statuses, provider-neutral.
AUTHORIZED, CAPTURED, DECLINED = "authorized", "captured", "declined"
REQUIRES_ACTION, PENDING, FAILED = "requires_action", "pending", "failed"
REFUNDED, PARTIALLY_REFUNDED, CANCELED = "refunded", "partially_refunded", "canceled"
EXPIRED = "expired"  # an asynchronous payment the shopper never completed in time


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvc: str
    holder: str = "Test Shopper"


@dataclass(frozen=True)
class Mit:
    """A recurring charge without the customer. At the acquirer that saved the card:
    its `token` (and its `customer`, where the token belongs to one). At any other: the
    raw card with the first payment's `network_transaction_id`, which every scheme
    accepts from any acquirer."""
    network_transaction_id: str | None = None
    token: str | None = None
    customer: str | None = None


@dataclass(frozen=True)
class PaymentRequest:
    reference: str
    amount: int             # minor units
    currency: str           # lower-case ISO 4217
    card: Card | None = None
    capture: bool = True
    return_url: str = "http://127.0.0.1/return"
    country: str | None = None
    email: str | None = None
    method: str = "card"    # card ideal bancontact pix oxxo upi mpesa
    phone: str | None = None    # M-Pesa's handset, Razorpay's contact
    vpa: str | None = None      # the UPI id a collect request goes to
    issuer: str | None = None   # iDEAL bank, e.g. ideal_INGBNL2A
    name: str | None = None
    notify_url: str = ""        # our receiver, for APIs that take it per payment
    #: Save the card for later merchant-initiated charges, for this customer (our id).
    save_card: bool = False
    customer_id: str | None = None
    #: A merchant-initiated charge of a saved card (the customer is not there).
    mit: Mit | None = None
    #: The customer at this acquirer, when an earlier saved card made one there.
    provider_customer: str | None = None

    @property
    def card_details(self) -> Card:
        if self.card is None:
            raise ValueError(f"a {self.method} payment has no card")
        return self.card


@dataclass(frozen=True)
class ProviderResult:
    status: str
    reference: str = ""            # the provider's id (pi_…, pspReference, pay_…)
    action_url: str | None = None  # where the shopper goes (3DS, redirect)
    decline_code: str | None = None
    #: What the shopper needs to finish an asynchronous payment: {"type": "redirect" |
    #: "pix" | "voucher" | "upi_collect" | "phone_prompt", …}.
    next_action: Mapping[str, Any] | None = None
    message: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    #: A saved card: the acquirer's token for it, the customer it belongs to there,
    #: and the network transaction id the scheme gave this payment.
    token: str | None = None
    customer: str | None = None
    network_transaction_id: str | None = None


# A dispute's state as the service books it, provider-neutral.
DISPUTE_OPEN, DISPUTE_UNDER_REVIEW = "needs_response", "under_review"
DISPUTE_WON, DISPUTE_LOST = "won", "lost"


@dataclass(frozen=True)
class DisputeNotice:
    """What a verified dispute webhook says: the provider's dispute id, its reason in
    the provider's words, the amount it holds and where it stands (the DISPUTE_*
    states); `answered` when the provider counts evidence already submitted."""
    dispute_id: str
    status: str
    reason: str
    amount: int
    answered: bool = False
    due_by: float | None = None


@dataclass(frozen=True)
class WebhookUpdate:
    """What a verified webhook says about one payment at the provider. `status` None:
    the webhook only names the payment (Mollie, Mercado Pago): read it from the API.
    `dispute`: the webhook is about a dispute of the payment."""
    reference: str
    status: str | None
    event: str
    decline_code: str | None = None
    dispute: DisputeNotice | None = None


class Unavailable(Exception):
    """The provider did not answer usefully (timeout, reset, 5xx, 429): retry with the
    same idempotency key, then count a breaker failure and fail over."""


class Rejected(Exception):
    """The provider refused the request itself (4xx other than a decline)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class BadSignature(Exception):
    """A webhook whose signature does not verify: answer 401 and change nothing."""


class Adapter(Protocol):
    name: str

    async def authorize(self, request: PaymentRequest, idempotency_key: str
                        ) -> ProviderResult: ...

    async def capture(self, reference: str, amount: int, currency: str,
                      idempotency_key: str) -> ProviderResult: ...

    async def refund(self, reference: str, amount: int, currency: str,
                     idempotency_key: str) -> ProviderResult: ...

    async def retrieve(self, reference: str) -> ProviderResult | None:
        """The payment as the provider sees it now; None where the API has no read
        (the webhook will tell)."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes,
                       query: Mapping[str, str] | None = None) -> list[WebhookUpdate]:
        """Verify (raise BadSignature) and parse; `query` is the receiver URL's query
        string (Mercado Pago signs `data.id` from it)."""
        ...

    def webhook_ack(self) -> tuple[str, str]:
        """Body and content type the provider expects back from a receiver."""
        ...


@runtime_checkable
class Defends(Protocol):
    """An adapter whose provider lets a merchant answer a dispute through its API."""

    async def submit_evidence(self, dispute_id: str, evidence: Mapping[str, str]) -> str:
        """Submit `evidence` (the provider's field names) for the dispute; the dispute's
        state afterwards (DISPUTE_*). Rejected when the provider no longer takes it (the
        dispute closed: its deadline passed)."""
        ...

    def evidence_for(self, payment: Mapping[str, Any]) -> dict[str, str]:
        """What the service knows of a payment, as the provider's evidence fields."""
        ...


@runtime_checkable
class ReadsDisputes(Protocol):
    """An adapter whose provider's webhook only names an object (Mollie's payment,
    Mercado Pago's chargeback): what disputes it is about is read from the API."""

    async def disputes_named(self, update: WebhookUpdate) -> list[tuple[str, DisputeNotice]]:
        """(payment reference, notice) for each dispute `update` may be about; none
        when it is about no dispute."""
        ...


def basic_auth(user: str, password: str) -> str:
    """An HTTP Basic `Authorization` value (Razorpay's key id:secret, Daraja's OAuth)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def send(session: aiohttp.ClientSession, method: str, url: str, *,
               timeout: float, **kwargs: Any) -> tuple[int, Any, str]:
    """One HTTP call; (status, parsed JSON or None, text). Transport trouble and
    5xx/429 raise Unavailable."""
    try:
        async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=timeout),
                                   **kwargs) as resp:
            text = await resp.text()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
    if status >= 500 or status == 429:
        raise Unavailable(f"{method} {url}: HTTP {status}")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        if status < 300:  # a 200 whose body is cut short: nothing we can rely on
            raise Unavailable(f"{method} {url}: HTTP {status} with a malformed body") from None
        parsed = None
    return status, parsed, text


async def call_json(session: aiohttp.ClientSession, method: str, url: str, *,
                    headers: Mapping[str, str], timeout: float,
                    body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
    """A JSON API call: (status, parsed body); a 4xx raises Rejected with the
    provider's answer, transport trouble and 5xx raise Unavailable (see `send`)."""
    kwargs: dict[str, Any] = {"headers": dict(headers)}
    if body is not None:
        kwargs["json"] = body
    status, parsed, text = await send(session, method, url, timeout=timeout, **kwargs)
    if status >= 400:
        raise Rejected(status, text)
    return status, parsed
