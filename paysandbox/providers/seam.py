"""The seam between a provider and everything else.

A provider declares its **dialect** (how its API authenticates, reads a body, names an
idempotent request and renders an error) and its **routes**: each a handler that gets
parameters already decoded and checked against the route's request contract, and a
narrow **context** to act through. The shared envelope (`providers.base.mount`) does
authenticate -> decode -> validate (by route name, from the contracts manifest) ->
scenario interception of reads -> idempotency -> handler -> render, once, for every
provider.

Through the context a handler executes canonical commands (whose side writes the engine
applies with the transition as one unit), reads payments, keeps its own objects in typed
repositories with cursor paging, publishes events through the engine, schedules
commands and builds hosted-page links from the public URL. It never sees the store or
the engine, so a provider cannot half-make a state change.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import orjson
from aiohttp import web
from multidict import CIMultiDictProxy

from paysandbox.contracts import Violation
from paysandbox.core.cards import card_fingerprint
from paysandbox.core.clock import VirtualClock
from paysandbox.core.commands import Command, Listing, Record, Result, credential_facts
from paysandbox.core.credentials import (
    issue_network_transaction_id,
    network_transaction_id_matches,
)
from paysandbox.core.payments import CardDetails, Payment
from paysandbox.core.tenancy import internal
from paysandbox.errors import ApiError
from paysandbox.hosted.pages import (
    CHALLENGE,
    HOSTED_NAMESPACE,
    page_path,
    public_base,
    token_record,
)
from paysandbox.ledger import AccountBooks
from paysandbox.objects import Kind, Objects, Repository, page
from paysandbox.store.base import Claim, KeyTaken
from paysandbox.webhooks.dispatcher import Event

if TYPE_CHECKING:
    from paysandbox.engine import Engine
    from paysandbox.providers.base import Provider

T = TypeVar("T", bound=Mapping[str, Any])

#: Set on a request that came on one of the provider's hostnames (no prefix): the
#: prefix and base its own path stands for (`/adyen/checkout` on checkout-test.adyen.com).
HOST_BASE = web.RequestKey("host_base", str)


def provider_path(request: web.Request) -> str:
    """The request's path as if it had come through the prefix (`/stripe/v1/…`), however
    it came: what the journal shows, scenario rules match and idempotency compares."""
    base = request.get(HOST_BASE)
    return request.path if base is None else base + request.path


def api_url(request: web.Request, provider: str, path: str = "") -> str:
    """The URL of `path` (below the provider's prefix) as the client reached it: with the
    prefix on the simulator's own address, without it on the provider's hostname."""
    base = request.get(HOST_BASE)
    if base is None:
        return f"{request.scheme}://{request.host}/{provider}{path}"
    return f"{request.scheme}://{request.host}{path.removeprefix(base[len(provider) + 1:])}"


def scenario_facts(request: web.Request, provider: str, **facts: Any) -> dict[str, Any]:
    """What scenario rules match a request on: its path below the provider's prefix and
    its headers, plus `facts` (the operation of a read, a payment's amount, …). The
    engine adds provider, namespace and operation, and the country of the card."""
    return {"path": provider_path(request)[len(provider) + 1:], "headers": request.headers,
            **facts}


class Dialect(Protocol):
    """How one provider's API speaks HTTP: what every one of its requests shares."""

    #: The request header carrying an idempotency key (None: the API has none).
    idempotency_header: str | None
    #: The response header that marks a replayed response (None: not marked).
    replay_header: str | None

    def authenticate(self, request: web.Request) -> str:
        """The namespace the request's credentials name; the provider's 401 if none."""

    async def decode(self, request: web.Request, schema: str | None) -> dict[str, Any]:
        """The request's parameters (body, query and path, as the API reads them),
        typed by the route's request contract `schema` where the wire needs it (a form
        body's strings); not yet validated. The provider's 400 for a body it cannot
        read."""

    def invalid(self, violation: Violation) -> ApiError:
        """The provider's own error for a request that breaks its contract."""

    def respond(self, body: Any, request: web.Request, status: int = 200) -> web.Response:
        """A success in the provider's format."""

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        """The one place the provider's error envelope is built."""

    def idempotency_errors(self, key: str) -> tuple[ApiError, ApiError]:
        """The errors for `key` reused with another request, and for `key` still in
        use by a request in flight."""

    def fingerprint(self, request: web.Request, params: Mapping[str, Any]) -> str:
        """What makes two requests under one idempotency key the same request."""


@runtime_checkable
class Admits(Protocol):
    """A dialect whose credentials need the provider's own records to check (an OAuth
    token it issued): `admit` runs after `authenticate`, before the body is read, and
    raises the provider's error for a credential it refuses."""

    async def admit(self, ctx: Context) -> None: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer when it is not a plain 200 with a body."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[["Context", dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    """One of the provider's real paths (below its prefix).

    `name` is the operation the contracts manifest lists the route under (its request
    schema validates the parameters). `read` names the operation scenarios see for a
    request that executes no command (`retrieve`, `list`, `create` of a non-payment
    object): the envelope lets scenarios intercept it (latency, faults) before the
    handler runs. `idempotent` routes are run at most once per idempotency key."""

    method: str
    path: str
    handler: Handler
    name: str
    read: str | None = None
    idempotent: bool = False


def op(method: str, path: str, handler: Handler, *, read: str | None = None,
       idempotent: bool | None = None, name: str | None = None) -> Route:
    """A route named after its handler; POST routes are idempotent unless told."""
    return Route(method, path, handler, name or handler.__name__, read,
                 method == "POST" if idempotent is None else idempotent)


class Context:
    """What a handler may do, for one request in one namespace."""

    __slots__ = ("_changes", "_engine", "_public_url", "claim", "executed", "namespace",
                 "provider", "read_kept", "request")

    def __init__(self, engine: Engine, provider: Provider, request: web.Request,
                 namespace: str, public_url: str | None) -> None:
        self._engine = engine
        self.provider = provider
        self.request = request
        self.namespace = namespace
        self._public_url = public_url
        # A request that changes state reads the payment it is about to change, from the
        # copy a remote store kept when it has one; the change itself is checked against
        # what is stored (Store.get's `to_change`).
        self._changes = engine.keeps_copies and request.method not in ("GET", "HEAD")
        #: Whether a payment was read that way: a refusal before any change may then
        #: come from a copy another process has since changed (the envelope runs the
        #: handler again, reading what is stored).
        self.read_kept = False
        #: The request's idempotency key, claimed with its first change of state (or,
        #: failing that, before any other write): see providers.base.idempotent.
        self.claim: Claim | None = None
        #: Whether a command reached the engine: a refusal before that (the request's
        #: parameters) leaves the idempotency key unused.
        self.executed = False

    # -- the request ----------------------------------------------------------------

    @property
    def path(self) -> Mapping[str, str]:
        """The route's path parameters (`{id}`)."""
        return self.request.match_info

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self.request.headers

    @property
    def clock(self) -> VirtualClock:
        return self._engine.clock

    def card_fingerprint(self, number: str, length: int = 16) -> str:
        """A card number's stable id, the same for every process on one store (an HMAC
        under the store's own key, never reversible)."""
        return card_fingerprint(number, self._engine.fingerprint_key, length)

    @property
    def fingerprint_key(self) -> bytes:
        """The key card fingerprints are HMACs under (the same for every process on
        one store)."""
        return self._engine.fingerprint_key

    # -- state changes --------------------------------------------------------------

    async def execute(self, command: Command, payment: Payment | None = None, *,
                      amount: int | None = None, card: CardDetails | None = None,
                      **facts: Any) -> Result:
        """Execute a canonical command through the engine (scenarios, faults, the
        transition with the command's writes as one unit, events, latency). Scenarios
        match on the request's path and headers, on `payment`'s amount (or `amount`),
        currency, card (or `card`), method and metadata, on who initiated it (the
        command's or the payment's stored credential: `initiator`, `mit_type`), and on
        `facts`."""
        self.executed = True
        seen = self.facts()
        if payment is not None:
            seen.update(amount=payment.amount if amount is None else amount,
                        currency=payment.currency, card=card or payment.card,
                        method=payment.method, metadata=payment.metadata)
        seen.update(credential_facts(command, payment))
        seen.update(facts)
        return await self._engine.execute(self.provider, self.namespace, command, seen,
                                          claim=self.claim)

    def network_transaction_id(self, card: CardDetails) -> str:
        """A new network transaction id for a payment with `card`, as the card scheme
        gives one (core/credentials.py): any imitated acquirer accepts it for a
        merchant-initiated payment with the same card."""
        return issue_network_transaction_id(self._engine.fingerprint_key, card)

    def network_transaction_id_matches(self, nti: str, card: CardDetails) -> bool:
        """Whether the schemes issued `nti` for a payment with `card`."""
        return network_transaction_id_matches(self._engine.fingerprint_key, nti, card)

    async def intercept(self, operation: str, **facts: Any) -> None:
        """Let scenarios act on a request that executes no command (latency, faults)."""
        await self._engine.intercept(self.provider, self.namespace, Listing(""),
                                     self.facts(operation=operation, **facts))

    def facts(self, **facts: Any) -> dict[str, Any]:
        """What scenario rules match this request on, plus `facts`."""
        return scenario_facts(self.request, self.provider.name, **facts)

    def schedule(self, command: Command, at: float) -> None:
        """Execute `command` when the virtual clock reaches `at`."""
        self._engine.schedule(self.provider, self.namespace, command, at)

    async def publish(self, events: Sequence[Event]) -> None:
        """Send events no state change carries, through the engine's outbox."""
        await self.claim_key()
        await self._engine.publish(self.provider, self.namespace, events)

    async def claim_key(self) -> None:
        """Claim the request's idempotency key now, if no change of state has (before a
        write that is not one: an object, an event): KeyTaken when it is held."""
        claim = self.claim
        if claim is None or claim.taken:
            return
        held = await self._engine.store.idempotency_begin(self.namespace, claim.key,
                                                          claim.fingerprint, claim.now)
        if held is not None:
            raise KeyTaken(held)
        claim.taken = True

    # -- reads ----------------------------------------------------------------------

    async def payment(self, payment_id: str) -> Payment | None:
        """The provider's own payment with that id in this namespace, if any."""
        self.read_kept |= self._changes
        p = await self._engine.store.get(self.namespace, payment_id, to_change=self._changes)
        return p if p is not None and p.provider == self.provider.name else None

    def read_stored(self) -> None:
        """Read what is stored from now on (see `read_kept`)."""
        self._changes = self.read_kept = False

    async def resolve(self, alias: str) -> Payment | None:
        """The payment an alias (a charge, a refund, a reference) was linked to."""
        pid = await self._engine.store.resolve(self.namespace, alias)
        return await self.payment(pid) if pid else None

    async def payments(self, limit: int = 10_000) -> list[Payment]:
        """The provider's payments in this namespace, newest first."""
        return await self._engine.store.list_payments(self.namespace,
                                                      provider=self.provider.name,
                                                      limit=limit)

    async def events(self, limit: int = 10_000) -> list[Event]:
        """The provider's events in this namespace, newest first."""
        return await self._engine.store.events(self.namespace, provider=self.provider.name,
                                               limit=limit)

    async def ledger(self) -> AccountBooks:
        """This account's books at the provider (paysandbox/ledger): its payments'
        movements of funds, priced by the provider's pricing, the daily payouts made
        of them so far on the virtual clock, and its balance; as the provider reports
        them, with the discrepancies a loaded scenario's `settlement:` puts in."""
        return await self._engine.account_books(self.provider, self.namespace)

    def objects(self, kind: Kind[T]) -> Repository[T]:
        repository = Objects(self._engine.store, self.namespace).of(kind)
        if self.claim is not None and not self.claim.taken:
            repository.before_write = self.claim_key
        return repository

    # -- links ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The simulator's public address: `--public-url`, else the address this
        request came to."""
        return public_base(self.request, self._public_url)

    def hosted_link(self, payment_id: str, page: str = "3ds") -> tuple[str, Record]:
        """A hosted page for one payment (the 3DS challenge by default; a provider's own
        page is `<provider>/<page>`, served by its HostsPages hook): its URL, and the
        record that makes it answer, to write with the command that needs it."""
        return self.hosted_link_at(secrets.token_urlsafe(16), payment_id, page)

    def api_url(self, path: str = "") -> str:
        """The URL of one of the provider's own paths, as the client reached it."""
        return api_url(self.request, self.provider.name, path)

    def destination_refusal(self, url: str) -> str | None:
        """Why a webhook URL may not be registered (SSRF guard), or None."""
        return self._engine.dispatcher.destinations.url_refusal(url)

    # -- the provider's own internal namespace -----------------------------------------

    def internal_objects(self, kind: Kind[T]) -> Repository[T]:
        """One kind of the provider's objects that belong to no tenant (OAuth tokens
        that name the tenant they were issued to): kept in the provider's own internal
        namespace, which no credential can name and retention never forgets whole."""
        return Objects(self._engine.store, internal(self.provider.name)).of(kind)

    # -- links the provider chose -----------------------------------------------------

    def hosted_link_at(self, token: str, payment_id: str,
                       page: str = "3ds") -> tuple[str, Record]:
        """`hosted_link` under a token the provider chose: one its API shows as its own
        id (Checkout.com's session id), or one a link issued earlier carries, for a page
        that opens only at a later step (Adyen's challenge after its device
        fingerprint). The token must be unguessable."""
        token, value = token_record(token, provider=self.provider.name,
                                    namespace=self.namespace, payment_id=payment_id,
                                    page=page)
        record = Record(CHALLENGE, token, value, namespace=HOSTED_NAMESPACE)
        return self.base_url + page_path(page, token), record


def json_fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two JSON requests the same: method, path and body, in any key order."""
    canon = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{method} {path} ".encode() + canon).hexdigest()


def basic_credentials(request: web.Request) -> tuple[str, str]:
    """The user name and password of an HTTP Basic `Authorization` header; two empty
    strings when there is none or it cannot be read (not base64, not UTF-8)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode() \
            .partition(":")
    except ValueError:  # not base64, not UTF-8, or not ASCII at all
        return "", ""
    return user, password


def bearer_token(request: web.Request) -> str:
    """The token of a `Bearer` `Authorization` header; empty when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


__all__ = ["Context", "Dialect", "Handler", "Kind", "Objects", "Reply", "Repository",
           "Route", "basic_credentials", "bearer_token", "json_fingerprint", "op",
           "page"]

