"""A provider's optional hooks: it has one by defining the method, and the code that uses
a hook asks with isinstance (the protocols are runtime-checkable), never with getattr."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from paysandbox.core.payments import Payment

if TYPE_CHECKING:
    from paysandbox.hosted.pages import PageRoute


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
