"""Mollie's Subscriptions API, charged on the virtual clock.

A subscription charges its customer's mandate every `interval` from `startDate` (months
are calendar months: the 31st of January, then the 28th or 29th of February, then the
31st of March), `times` times or until it is canceled. Each period is a `Renew` the
engine runs when the clock reaches the period's date (00:00 UTC); `MollieProvider.renewal`
turns it into a recurring payment with `subscriptionId` that calls the subscription's
webhookUrl as the payment's webhook, and writes the subscription's new
`timesRemaining` and `nextPaymentDate` with that payment. At most one `Renew` of a
subscription is live: it names the payment it will create (`_due`), and a reschedule or
a cancellation makes the older one find nothing to do.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from paysandbox.core.commands import Authorize, Renew, Writes
from paysandbox.core.credentials import MitType
from paysandbox.core.outcomes import Outcome
from paysandbox.errors import ResourceMissing
from paysandbox.objects import Objects
from paysandbox.providers.hooks import Renewal
from paysandbox.providers.mollie import mandates, payments, wire
from paysandbox.providers.mollie.objects import (
    CANCELLATIONS,
    MANDATES,
    SUBSCRIPTIONS,
    CancellationRecord,
    MandateRecord,
    SubscriptionRecord,
)
from paysandbox.providers.mollie.payments import amount_of, api_base, listing, page_of
from paysandbox.providers.mollie.wire import MollieError
from paysandbox.providers.seam import Context, Reply

_INTERVAL = re.compile(r"^([1-9][0-9]{0,2}) (day|days|week|weeks|month|months)$")
#: Mollie's longest interval: a year, however it is counted.
_MOST = {"day": 365, "week": 52, "month": 12}


def _interval(text: str) -> tuple[int, str]:
    m = _INTERVAL.match(text)
    unit = m.group(2).rstrip("s") if m else ""
    if m is None or int(m.group(1)) > _MOST[unit]:
        raise MollieError(f"The interval is invalid: {text!r}. Use a number of days, weeks "
                          "or months of at most a year, for example \"1 month\", \"14 days\" "
                          "or \"2 weeks\".", field="interval")
    return int(m.group(1)), unit


def _add(start: date, interval: str, periods: int) -> date:
    count, unit = _interval(interval)
    if unit == "day":
        return start + timedelta(days=count * periods)
    if unit == "week":
        return start + timedelta(weeks=count * periods)
    months = start.month - 1 + count * periods
    year, month = start.year + months // 12, months % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _date_of(s: SubscriptionRecord, period: int) -> date:
    anchor = date.fromisoformat(s["_anchor"])
    return _add(anchor, s["interval"], period - s["_anchorSequence"])


def _midnight(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def _missing(sid: str) -> ResourceMissing:
    return ResourceMissing(f"No subscription exists with token {sid}.")


def render(s: SubscriptionRecord, base: str) -> dict[str, Any]:
    """A subscription object (https://docs.mollie.com/reference/get-subscription)."""
    cid = s["customerId"]
    out: dict[str, Any] = {k: v for k, v in s.items() if not k.startswith("_")}
    del out["customerId"]
    out = {"resource": "subscription", "mode": "test", **out}
    for key in ("times", "timesRemaining", "nextPaymentDate", "canceledAt"):
        if out.get(key) is None:
            del out[key]
    links: dict[str, Any] = {
        "self": wire.link(f"{base}/customers/{cid}/subscriptions/{s['id']}"),
        "customer": wire.link(f"{base}/customers/{cid}"),
    }
    if s["mandateId"]:
        links["mandate"] = wire.link(f"{base}/customers/{cid}/mandates/{s['mandateId']}")
    if s["_sequence"] > 1:
        links["payments"] = wire.link(f"{base}/customers/{cid}/subscriptions/{s['id']}"
                                      "/payments")
    links["documentation"] = wire.link(f"{wire.DOCS}/reference/get-subscription",
                                       "text/html")
    out["_links"] = links
    return out


# -- handlers ------------------------------------------------------------------------------

def _start(value: str | None, today: date) -> date:
    if value is None:
        return today
    try:
        start = date.fromisoformat(value)
    except ValueError:
        raise MollieError(f"The start date is invalid: {value!r}. Use YYYY-MM-DD.",
                          field="startDate") from None
    if start < today:
        raise MollieError(f"The start date {value} is in the past; use today ({today}) or "
                          "later.", field="startDate")
    return start


async def _unique(ctx: Context, cid: str, description: str, sid: str | None = None) -> None:
    for s in await _all(ctx):
        if s["customerId"] == cid and s["status"] == "active" and s["id"] != sid and \
                s["description"] == description:
            raise MollieError(f"The description {description!r} is already used by the "
                              f"customer's active subscription {s['id']}: Mollie needs one "
                              "description per active subscription of a customer.",
                              field="description")


def _schedule(ctx: Context, s: SubscriptionRecord) -> SubscriptionRecord:
    """A new live `Renew` for the subscription's next period (the older one lapses)."""
    due = wire.new_id("tr")
    period = s["_sequence"]
    at = _date_of(s, period)
    ctx.schedule(Renew(due, plan=s["id"], sequence=period), _midnight(at))
    return SubscriptionRecord(**{**s, "_due": due, "nextPaymentDate": at.isoformat()})


async def create_subscription(ctx: Context, params: dict[str, Any]) -> Any:
    cid = (await mandates.customer(ctx, ctx.path["id"]))["id"]
    amount, currency = amount_of(params)
    _interval(params["interval"])
    times = params.get("times")
    method = params.get("method")
    description = str(params["description"])[:255]
    today = ctx.clock.now_datetime().date()
    start = _start(params.get("startDate"), today)
    webhook = payments.webhook_url(ctx, params.get("webhookUrl"))
    metadata, _ = payments.metadata_of(params.get("metadata"))
    await _unique(ctx, cid, description)
    mandate = await mandates.usable(ctx, cid, params.get("mandateId"), method)
    sid = wire.new_id("sub")
    record = _schedule(ctx, SubscriptionRecord(
        id=sid, customerId=cid, createdAt=wire.timestamp(ctx.clock.now()), status="active",
        amount=wire.money(amount, currency), times=times, timesRemaining=times,
        interval=params["interval"], startDate=start.isoformat(), nextPaymentDate=None,
        description=description, method=method, mandateId=mandate["id"], canceledAt=None,
        webhookUrl=webhook, metadata=metadata, _namespace=ctx.namespace, _sequence=1,
        _due=None, _anchor=start.isoformat(), _anchorSequence=1))
    await ctx.objects(SUBSCRIPTIONS).put(sid, record)
    return Reply(render(record, api_base(ctx)), status=201)


async def _subscription(ctx: Context) -> SubscriptionRecord:
    cid = (await mandates.customer(ctx, ctx.path["id"]))["id"]
    sid = ctx.path["subscription"]
    found = await ctx.objects(SUBSCRIPTIONS).get(sid)
    if found is None or found["customerId"] != cid:
        raise _missing(sid)
    return _as_canceled(found, await ctx.objects(CANCELLATIONS).get(sid))


def _as_canceled(s: SubscriptionRecord,
                 cancellation: CancellationRecord | None) -> SubscriptionRecord:
    """The subscription with its cancellation, if it has one."""
    if cancellation is None or s["status"] == "canceled":
        return s
    return SubscriptionRecord(**{**s, "status": "canceled", "nextPaymentDate": None,
                                 "canceledAt": cancellation["canceledAt"], "_due": None})


async def _all(ctx: Context) -> list[SubscriptionRecord]:
    ended = {c["id"]: c for c in await ctx.objects(CANCELLATIONS).all()}
    return [_as_canceled(s, ended.get(s["id"]))
            for s in await ctx.objects(SUBSCRIPTIONS).all()]


async def get_subscription(ctx: Context, params: dict[str, Any]) -> Any:
    return render(await _subscription(ctx), api_base(ctx))


async def update_subscription(ctx: Context, params: dict[str, Any]) -> Any:
    s = await _subscription(ctx)
    if s["status"] != "active":
        raise MollieError(f"The subscription {s['id']} cannot be updated: its status is "
                          f"{s['status']}. Only active subscriptions can be updated.")
    new: dict[str, Any] = dict(s)
    if "amount" in params:
        new["amount"] = wire.money(*amount_of(params))
    if "description" in params:
        new["description"] = str(params["description"])[:255]
        await _unique(ctx, s["customerId"], new["description"], s["id"])
    if "webhookUrl" in params:
        new["webhookUrl"] = payments.webhook_url(ctx, params["webhookUrl"])
    if "metadata" in params:
        new["metadata"], _ = payments.metadata_of(params["metadata"])
    if "mandateId" in params:
        new["mandateId"] = (await mandates.usable(ctx, s["customerId"],
                                                  params["mandateId"]))["id"]
    made = s["_sequence"] - 1
    if "times" in params:
        if params["times"] <= made:
            raise MollieError(f"The subscription has made {made} payments already: times "
                              f"must be more than that.", field="times")
        new["times"], new["timesRemaining"] = params["times"], params["times"] - made
    reschedule = "interval" in params or "startDate" in params
    if "interval" in params:
        _interval(params["interval"])
        new.update(interval=params["interval"], _anchor=s["nextPaymentDate"],
                   _anchorSequence=s["_sequence"])
    if "startDate" in params:
        start = _start(params["startDate"], ctx.clock.now_datetime().date())
        new.update(startDate=start.isoformat(), _anchor=start.isoformat(),
                   _anchorSequence=s["_sequence"])
    record = SubscriptionRecord(**new)  # type: ignore[typeddict-item]
    if reschedule:
        record = _schedule(ctx, record)
    await ctx.objects(SUBSCRIPTIONS).put(record["id"], record)
    return render(record, api_base(ctx))


async def _cancel(ctx: Context, s: SubscriptionRecord) -> SubscriptionRecord:
    cancellation = CancellationRecord(id=s["id"], canceledAt=wire.timestamp(ctx.clock.now()))
    await ctx.objects(CANCELLATIONS).put(s["id"], cancellation)
    record = _as_canceled(s, cancellation)
    await ctx.objects(SUBSCRIPTIONS).put(s["id"], record)
    return record


async def cancel_subscription(ctx: Context, params: dict[str, Any]) -> Any:
    s = await _subscription(ctx)
    if s["status"] != "active":
        raise MollieError(f"The subscription {s['id']} cannot be canceled: its status is "
                          f"{s['status']}.")
    return render(await _cancel(ctx, s), api_base(ctx))


async def cancel_all(ctx: Context, cid: str, *, mandate: str | None = None) -> None:
    """Cancel the customer's active subscriptions (those on `mandate`, if one is named)."""
    for s in await _all(ctx):
        if s["customerId"] == cid and s["status"] == "active" and (
                mandate is None or s["mandateId"] == mandate):
            await _cancel(ctx, s)


async def list_subscriptions(ctx: Context, params: dict[str, Any]) -> Any:
    cid = (await mandates.customer(ctx, ctx.path["id"]))["id"]
    theirs = [s for s in await _all(ctx) if s["customerId"] == cid]
    return _listing(ctx, params, theirs, f"/customers/{cid}/subscriptions",
                    "subscriptions-api/list-subscriptions")


async def list_all_subscriptions(ctx: Context, params: dict[str, Any]) -> Any:
    return _listing(ctx, params, await _all(ctx), "/subscriptions",
                    "subscriptions-api/list-all-subscriptions")


def _listing(ctx: Context, params: dict[str, Any], items: list[SubscriptionRecord],
             path: str, doc: str) -> Any:
    base = api_base(ctx)
    found, nxt = page_of(list(reversed(items)), params, lambda s: s["id"])
    return listing(ctx, "subscriptions", [render(s, base) for s in found], base + path,
                   params, nxt, doc)


async def list_subscription_payments(ctx: Context, params: dict[str, Any]) -> Any:
    s = await _subscription(ctx)
    base = api_base(ctx)
    theirs = [p for p in await ctx.payments(limit=mandates.SEARCHED_PAYMENTS)
              if p.extra.get("subscriptionId") == s["id"]]
    found, nxt = page_of(theirs, params, lambda p: p.id)
    return listing(ctx, "payments", [payments.body(ctx, p) for p in found],
                   f"{base}/customers/{s['customerId']}/subscriptions/{s['id']}/payments",
                   params, nxt, "subscriptions-api/list-subscription-payments")


# -- the clock -----------------------------------------------------------------------------

async def renewal(due: Renew, objects: Objects, now: float) -> Renewal:
    """The period `due.sequence` of subscription `due.plan`: a recurring payment on its
    mandate, the subscription's next period written with it."""
    s = await objects.of(SUBSCRIPTIONS).get(due.plan)
    if s is None or s["status"] != "active" or s["_due"] != due.payment_id or \
            await objects.of(CANCELLATIONS).get(due.plan) is not None:
        return Renewal(None)  # canceled, rescheduled, or reset since it was scheduled
    mandate = await _mandate(objects, s)
    if mandate is None:
        return Renewal(None)
    remaining = None if s["timesRemaining"] is None else s["timesRemaining"] - 1
    last = remaining == 0
    period = s["_sequence"] + 1
    next_date = None if last else _date_of(s, period)
    next_id = None if last else wire.new_id("tr")
    updated = SubscriptionRecord(**{
        **s, "timesRemaining": remaining, "_sequence": period, "_due": next_id,
        "status": "completed" if last else "active",
        "nextPaymentDate": None if next_date is None else next_date.isoformat()})
    amount, currency = wire.parse_amount(s["amount"])
    metadata = s["metadata"]
    flat = {str(k): str(v) for k, v in metadata.items()
            if isinstance(v, str | int | float | bool)} if isinstance(metadata, dict) else {}
    charge = mandates.charge(
        mandate, pid=due.payment_id, namespace=s["_namespace"], now=now, amount=amount,
        currency=currency, description=s["description"], mit_type=MitType.RECURRING,
        metadata=flat, extra={"subscriptionId": s["id"], "webhookUrl": s["webhookUrl"],
                              "metadata": metadata})
    command = Authorize(charge.id, Outcome.approve(), create=charge, writes=Writes(
        records=(objects.of(SUBSCRIPTIONS).record(s["id"], updated),)))
    facts = {"amount": amount, "currency": currency, "card": charge.card,
             "method": charge.method}
    if next_id is None or next_date is None:
        return Renewal(command, facts)
    return Renewal(command, facts, Renew(next_id, plan=s["id"], sequence=period),
                   _midnight(next_date))


async def _mandate(objects: Objects, s: SubscriptionRecord) -> MandateRecord | None:
    m = await objects.of(MANDATES).get(s["mandateId"] or "")
    return m if m is not None and m["status"] == "valid" else None
