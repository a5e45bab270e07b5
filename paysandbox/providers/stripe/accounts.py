"""The account an API key is (`GET /v1/account`) and the bank accounts its payouts go to
(https://docs.stripe.com/api/accounts/retrieve,
https://docs.stripe.com/api/external_account_bank_accounts), with Stripe's test bank
account numbers (https://docs.stripe.com/connect/testing#account-numbers): a payout to
one of the failing ones fails when it would have arrived, with its failure code.

Every account starts with one bank account, Stripe's succeeding test account
(000123456789), as its default for payouts. The first bank account added replaces it as
the default; a later one becomes the default with `default_for_currency=true`. A payout
goes to the bank account that was the default on its day, so changing the default does
not change what became of earlier payouts.

LIMITATIONS: one account per API key, the platform's own (no Connect: another account's
id is `resource_missing`); its fields are fixed (US, usd, daily automatic payouts) and
`POST /v1/account` is not imitated. External accounts are US bank accounts in usd only
(no debit cards, no other countries or currencies); only Stripe's test account numbers
and bank account tokens are accepted, as Stripe's test mode does. `000888888883`
(refuses instant payouts) is accepted and pays, as there are no instant payouts. Payouts
are not paused after one fails (Stripe pauses them until the bank account is replaced):
later ones go, and fail, to the same account. A refused payout's amount is back in the
available balance Stripe shows but is never paid out again, and the admin API's ledger
(`GET /__admin/ledger`), which knows no bank accounts, shows that payout as paid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from paysandbox.errors import InvalidRequest, ResourceMissing
from paysandbox.objects import Kind, Repository
from paysandbox.providers.seam import Context, page
from paysandbox.providers.stripe import wire
from paysandbox.providers.stripe.errors import cursor_missing

#: Stripe's test bank account numbers (routing 110000000) and what a payout to each
#: becomes: None pays, else the payout's failure code.
TEST_ACCOUNTS: Mapping[str, str | None] = {
    "000123456789": None,
    "000111111116": "no_account",
    "000111111113": "account_closed",
    "000222222227": "insufficient_funds",
    "000333333335": "debit_not_authorized",
    "000444444440": "invalid_currency",
    "000888888883": None,
}

#: Stripe's bank account test tokens, each standing for one of the numbers above.
TEST_TOKENS: Mapping[str, str] = {
    "btok_us_verified": "000123456789",
    "btok_us_verified_noAccount": "000111111116",
    "btok_us_verified_accountClosed": "000111111113",
    "btok_us_verified_insufficientFunds": "000222222227",
    "btok_us_verified_debitNotAuthorized": "000333333335",
    "btok_us_verified_invalidCurrency": "000444444440",
}

ROUTING_NUMBER = "110000000"

#: The bank account every account starts with (Stripe's succeeding test account).
STARTING_ACCOUNT = "ba_1SandboxPayoutsBankAcct"


class BankAccountRecord(TypedDict):
    id: str
    created: int
    account_number: str  # a test number (no real one is accepted)
    routing_number: str
    account_holder_name: str | None
    account_holder_type: str | None
    metadata: dict[str, str]
    #: When it became the default for payouts (None: it never was).
    default_since: float | None
    deleted: bool


BANK_ACCOUNTS: Kind[BankAccountRecord] = Kind("stripe.bank_account")

_STARTING: BankAccountRecord = {
    "id": STARTING_ACCOUNT, "created": 0, "account_number": "000123456789",
    "routing_number": ROUTING_NUMBER, "account_holder_name": None,
    "account_holder_type": None, "metadata": {}, "default_since": 0.0, "deleted": False}


def account_id(namespace: str) -> str:
    """The account an API key is: the same id for the key every time."""
    return "acct_1" + hashlib.blake2b(namespace.encode(), digest_size=8).hexdigest()


def failure(record: Mapping[str, Any]) -> str | None:
    """What a payout to this bank account becomes: None pays, else its failure code."""
    return TEST_ACCOUNTS.get(record["account_number"])


async def bank_accounts(repository: Repository[BankAccountRecord]) -> list[BankAccountRecord]:
    """Every bank account the account has had, the one it started with first (deleted
    ones too: a payout may have gone to one)."""
    return [_STARTING, *await repository.all()]


def default_at(found: Sequence[BankAccountRecord], at: float) -> BankAccountRecord:
    """The bank account payouts went to at `at`: the latest made the default by then."""
    chosen = _STARTING
    for r in found:
        since = r["default_since"]
        if since is not None and since <= at and since >= (chosen["default_since"] or 0):
            chosen = r
    return chosen


def _current_default(found: Sequence[BankAccountRecord]) -> str:
    return default_at(found, float("inf"))["id"]


def bank_account(r: BankAccountRecord, owner: str, default: bool) -> dict[str, Any]:
    number = r["account_number"]
    return {
        "id": r["id"], "object": "bank_account", "account": owner,
        "account_holder_name": r["account_holder_name"],
        "account_holder_type": r["account_holder_type"], "account_type": None,
        "available_payout_methods": ["standard"], "bank_name": "STRIPE TEST BANK",
        "country": "US", "currency": "usd", "default_for_currency": default,
        "fingerprint": hashlib.blake2b(f"{ROUTING_NUMBER}:{number}".encode(),
                                       digest_size=8).hexdigest(),
        "last4": number[-4:], "metadata": r["metadata"],
        "routing_number": r["routing_number"], "status": "new",
    }


def _listed(found: Sequence[BankAccountRecord], owner: str) -> list[dict[str, Any]]:
    """The account's bank accounts as its API lists them, newest first."""
    default = _current_default(found)
    return [bank_account(r, owner, r["id"] == default)
            for r in reversed(found) if not r["deleted"]]


def _url(owner: str) -> str:
    return f"/v1/accounts/{owner}/external_accounts"


def account(ctx: Context, found: Sequence[BankAccountRecord]) -> dict[str, Any]:
    owner = account_id(ctx.namespace)
    listed = _listed(found, owner)
    return {
        "id": owner, "object": "account",
        "business_profile": {"mcc": None, "name": None, "product_description": None,
                             "support_email": None, "support_phone": None,
                             "support_url": None, "url": None},
        "business_type": None,
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True, "country": "US", "created": 0,
        "default_currency": "usd", "details_submitted": True, "email": None,
        "external_accounts": {"object": "list", "data": listed[:10],
                              "has_more": len(listed) > 10, "url": _url(owner)},
        "metadata": {}, "payouts_enabled": True,
        "settings": {"payouts": {"debit_negative_balances": True,
                                 "schedule": {"delay_days": 2, "interval": "daily"},
                                 "statement_descriptor": None}},
        "type": "standard",
    }


# -- handlers ------------------------------------------------------------------------------

def _owner(ctx: Context) -> str:
    owner = account_id(ctx.namespace)
    given = ctx.path["account"]
    if given != owner:
        raise ResourceMissing(
            f"No such account: '{given}'. This simulator has one account per API key, "
            f"the key's own: {owner} (see GET /v1/account).", param="account",
            code="resource_missing")
    return owner


async def retrieve_account(ctx: Context, params: dict[str, Any]) -> Any:
    return account(ctx, await bank_accounts(ctx.objects(BANK_ACCOUNTS)))


def _number(given: Any) -> tuple[str, str | None, str | None]:
    """The test account number, holder name and type a request's `external_account`
    names (a bank account token, or the account's details)."""
    if isinstance(given, str):
        number = TEST_TOKENS.get(given)
        if number is None:
            raise InvalidRequest(
                f"No such token: '{given}'. Bank account test tokens: "
                f"{', '.join(TEST_TOKENS)}.", param="external_account",
                code="resource_missing")
        return number, None, None
    if given.get("object") != "bank_account":
        raise InvalidRequest("This simulator's external accounts are bank accounts: "
                             "pass external_account[object]=bank_account.",
                             param="external_account[object]")
    if given.get("country", "US").upper() != "US" or \
            given.get("currency", "usd").lower() != "usd":
        raise InvalidRequest("This simulator's external accounts are US bank accounts in "
                             "usd: external_account[country]=US, "
                             "external_account[currency]=usd.",
                             param="external_account[currency]")
    routing = given.get("routing_number", "")
    if routing != ROUTING_NUMBER:
        raise InvalidRequest(
            f"Invalid routing number: '{routing}'. In test mode use the test routing "
            f"number {ROUTING_NUMBER}.", param="external_account[routing_number]",
            code="routing_number_invalid")
    number = given["account_number"]
    if number not in TEST_ACCOUNTS:
        raise InvalidRequest(
            "You must use a test bank account number in test mode. Try 000123456789 or "
            "see more options at https://docs.stripe.com/connect/testing#account-numbers.",
            param="external_account[account_number]", code="account_number_invalid")
    return number, given.get("account_holder_name"), given.get("account_holder_type")


async def create_external_account(ctx: Context, params: dict[str, Any]) -> Any:
    owner = _owner(ctx)
    number, holder, holder_type = _number(params["external_account"])
    repository = ctx.objects(BANK_ACCOUNTS)
    found = await bank_accounts(repository)
    first = not any(not r["deleted"] for r in found[1:])
    now = ctx.clock.now()
    record: BankAccountRecord = {
        "id": wire.new_id("ba"), "created": int(now), "account_number": number,
        "routing_number": ROUTING_NUMBER, "account_holder_name": holder,
        "account_holder_type": holder_type, "metadata": params.get("metadata") or {},
        "default_since": now if first or params.get("default_for_currency") else None,
        "deleted": False}
    await repository.put(record["id"], record)
    return bank_account(record, owner, record["default_since"] is not None)


async def _found(ctx: Context) -> tuple[str, Repository[BankAccountRecord],
                                        list[BankAccountRecord], BankAccountRecord]:
    owner = _owner(ctx)
    repository = ctx.objects(BANK_ACCOUNTS)
    found = await bank_accounts(repository)
    record = next((r for r in found if r["id"] == ctx.path["id"] and not r["deleted"]), None)
    if record is None:
        raise ResourceMissing(f"No such external account: '{ctx.path['id']}'", param="id",
                              code="resource_missing")
    return owner, repository, found, record


async def retrieve_external_account(ctx: Context, params: dict[str, Any]) -> Any:
    owner, _, found, record = await _found(ctx)
    return bank_account(record, owner, record["id"] == _current_default(found))


async def update_external_account(ctx: Context, params: dict[str, Any]) -> Any:
    owner, repository, found, record = await _found(ctx)
    if record["id"] == STARTING_ACCOUNT:
        raise InvalidRequest("The bank account this simulator starts every account with "
                             "cannot be changed: add one of your own.", param="id")
    record = {**record}
    if params.get("default_for_currency"):
        record["default_since"] = ctx.clock.now()
    for field in ("account_holder_name", "account_holder_type"):
        if field in params:
            record[field] = params[field]
    if "metadata" in params:
        record["metadata"] = {k: v for k, v in {**record["metadata"],
                                                **params["metadata"]}.items() if v}
    await repository.put(record["id"], record)
    found = [record if r["id"] == record["id"] else r for r in found]
    return bank_account(record, owner, record["id"] == _current_default(found))


async def delete_external_account(ctx: Context, params: dict[str, Any]) -> Any:
    _, repository, found, record = await _found(ctx)
    if record["id"] == _current_default(found) or record["id"] == STARTING_ACCOUNT:
        raise InvalidRequest(
            "You cannot delete the default external account for your default currency. "
            "Please make another external account the default using the "
            "`default_for_currency` param, and then delete this one.", param="id")
    await repository.put(record["id"], {**record, "deleted": True})
    return {"id": record["id"], "object": "bank_account", "deleted": True}


async def list_external_accounts(ctx: Context, params: dict[str, Any]) -> Any:
    owner = _owner(ctx)
    listed = _listed(await bank_accounts(ctx.objects(BANK_ACCOUNTS)), owner)
    if params.get("object") == "card":
        listed = []
    found, more = page(listed, limit=params.get("limit", 10),
                       after=params.get("starting_after"), key=lambda r: r["id"],
                       missing=cursor_missing)
    return wire.listing(_url(owner), found, more)
