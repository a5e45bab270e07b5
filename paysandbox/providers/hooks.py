"""A provider's optional hooks: it has one by defining the method, and the code that uses
a hook asks with isinstance (the protocols are runtime-checkable), never with getattr."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from paysandbox.core.commands import Authorize, Renew, Settle
from paysandbox.core.payments import Payment

if TYPE_CHECKING:
    from paysandbox.hosted.pages import PageRoute
    from paysandbox.ledger import AccountBooks
    from paysandbox.objects import Objects
    from paysandbox.webhooks.dispatcher import Event


@runtime_checkable
class NamesStatuses(Protocol):
    def public_status(self, p: Payment) -> str:
        """The payment's status as the provider's own API names it (hosted pages)."""


@runtime_checkable
class ReturnsShoppers(Protocol):
    def return_url(self, p: Payment) -> str | None:
        """Where a hosted page sends the shopper when it is done, if anywhere."""


@runtime_checkable
class HostsPages(Protocol):
    def hosted_routes(self) -> Iterable[PageRoute]:
        """The provider's own pages, served under /__hosted/<name>/<page>/<token>: each
        handler gets a hosted.pages.PageContext for a token the provider made with
        seam.Context.hosted_link(payment_id, page="<name>/<page>")."""


@dataclass(frozen=True, slots=True)
class Renewal:
    """What a due `Renew` becomes: the period's payment to attempt (None: nothing to
    charge, the subscription was cancelled or is over), the facts scenarios match it on
    (its amount, currency, card, method), and the next period (None: the last)."""

    charge: Authorize | None
    facts: Mapping[str, Any] = field(default_factory=dict)
    next: Renew | None = None
    next_at: float | None = None


@runtime_checkable
class Renews(Protocol):
    async def renewal(self, due: Renew, objects: Objects, now: float) -> Renewal:
        """The provider's subscription `due.plan` is due at `now`: read it from the
        namespace's `objects` and say what to charge (an `Authorize` that creates the
        payment, with its credential) and when the next period is due. Everything it
        writes goes with the charge (`Authorize.writes`)."""


@runtime_checkable
class SubAccounts(Protocol):
    def sub_account(self, p: Payment) -> str:
        """The part of its namespace (the credential's account) that payment `p` settles
        to on its own, as the provider names it (Adyen's merchant account); "" for the
        namespace as a whole. The ledger keeps each part's entries, payouts and
        settlement terms apart (paysandbox/ledger)."""


@runtime_checkable
class Settles(Protocol):
    async def settlement_events(self, books: AccountBooks, objects: Objects,
                                namespace: str, due: Settle, now: float
                                ) -> Sequence[Event]:
        """The account's funds of `due.day` were paid out (or, `due.arrived`, that payout
        reached the bank): the events the provider sends for it (`payout.created` and
        `payout.paid`, a report's REPORT_AVAILABLE), from the account's `books` as the
        provider reports them and the namespace's `objects` (where its bank account is).
        Events need ids that are the same each time (from the payout's id): a fleet may
        announce one day twice, and a receiver tells them apart by id."""
