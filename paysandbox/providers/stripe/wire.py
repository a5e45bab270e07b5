"""Stripe's wire format: bracket-syntax form bodies in, Stripe's JSON objects out.

Also the one place Stripe's error envelope is built, and Stripe's webhook signature
(`Stripe-Signature: t=…,v1=…`, HMAC-SHA256 of "t.payload" keyed by the whsec_
secret, as `stripe.Webhook.construct_event` checks it).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

import orjson

from paysandbox.contracts import ContractViolation, Violation, check, schema
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import CardDetails, Payment, Refund, Status
from paysandbox.errors import ApiError, InvalidRequest
from paysandbox.ledger import charge_entry_id, refund_entry_id
from paysandbox.providers.base import data_table
from paysandbox.webhooks.dispatcher import Event, Signed, Source

API_VERSION = "2026-10-28.endive"
DOCS = "https://docs.stripe.com"

_ALPHABET = (string.ascii_letters + string.digits).encode()
# Every byte value to a base62 character (a slight bias is fine: ids must be unique,
# not secret); translating random bytes is ten times faster than random.choices.
_TO_BASE62 = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))


def new_id(prefix: str, length: int = 24) -> str:
    """Ids shaped like Stripe's: a type prefix and 24 base62 characters."""
    return prefix + "_" + random.randbytes(length).translate(_TO_BASE62).decode()


# -- requests -------------------------------------------------------------------------

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


def parse_form(body: str) -> dict[str, Any]:
    """Decode Stripe's bracket syntax: `metadata[k]=v`, `types[]=card`, `items[0][x]=1`."""
    if "[" not in body and "]" not in body and "%5" not in body:  # flat: the common case
        return dict(parse_qsl(body, keep_blank_values=True))
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True, strict_parsing=False):
        m = _KEY.match(key)
        if m is None:
            raise InvalidRequest(f"Invalid parameter name: {key}", param=key,
                                 code="parameter_invalid_string")
        parts = [m.group(1), *_PART.findall(m.group(2))]
        _insert(root, parts, value, key)
    return _listify(root, "")  # type: ignore[no-any-return]


def _insert(node: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":  # `name[]` appends
            lst = node.setdefault("\0list", [])
            if last:
                lst.append(value)
                return
            child: dict[str, Any] = {}
            lst.append(child)
            node = child
            continue
        if last:
            if isinstance(node.get(part), dict):
                raise InvalidRequest(f"Invalid hash: {key} was given both as a value and "
                                     "as a hash", param=key)
            node[part] = value
            return
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            raise InvalidRequest(f"Invalid hash: {key} was given both as a value and as a hash",
                                 param=key)
        node = nxt


def _listify(node: Any, name: str) -> Any:
    if not isinstance(node, dict):
        return node
    if "\0list" in node:
        items = node.pop("\0list")
        if node:  # `x[]=1` beside `x[k]=2` or `x[0]=2`: a list and a hash at once
            raise InvalidRequest(f"Invalid array: {name} was given both with [] and with "
                                 f"keys or indexes ({', '.join(sorted(node))})", param=name,
                                 code="parameter_invalid_array")
        return [_listify(v, f"{name}[]") for v in items]
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k], f"{name}[{k}]") for k in sorted(node, key=int)]
    return {k: _listify(v, f"{name}[{k}]" if name else k) for k, v in node.items()}


_INT = re.compile(r"^-?\d+$")


def coerce(data: Any, sch: Mapping[str, Any]) -> Any:
    """Turn form strings into the types the contract expects, where they parse."""
    t = sch.get("type")
    if t == "object" and data == "":  # `metadata=`: Stripe's way to send an empty hash
        return {}
    if t == "integer" and isinstance(data, str) and _INT.match(data):
        return int(data)
    if t == ["integer", "object"]:  # `created=123` or `created[gte]=123`
        return coerce(data, {**sch, "type": "object" if isinstance(data, dict) else "integer"})
    if t == "boolean" or ("anyOf" in sch and isinstance(data, str) and data in ("true", "false")):
        return {"true": True, "false": False}.get(data, data) if isinstance(data, str) else data
    if t == "array" and isinstance(data, list):
        items = sch.get("items", {})
        return [coerce(v, items) for v in data]
    if t == "object" and isinstance(data, dict):
        props = sch.get("properties", {})
        extra = sch.get("additionalProperties")
        out = {}
        for k, v in data.items():
            sub = props.get(k, extra if isinstance(extra, dict) else None)
            out[k] = coerce(v, sub) if sub else v
        return out
    return data


def parse_params(raw: str, contract: str) -> dict[str, Any]:
    """Form body (or query string) -> validated, typed parameters; Stripe's 400 if not."""
    data = coerce(parse_form(raw), schema("stripe", contract))
    try:
        check("stripe", contract, data)
    except ContractViolation as exc:
        raise violation_error(exc.violation) from None
    return data  # type: ignore[no-any-return]


def param_name(path: Sequence[str | int]) -> str:
    if not path:
        return ""
    head, *rest = path
    return str(head) + "".join(f"[{p}]" for p in rest)


def violation_error(v: Violation) -> InvalidRequest:
    param = param_name(v.path)
    if v.kind == "missing":
        return InvalidRequest(f"Missing required param: {param}.", param=param,
                              code="parameter_missing")
    if v.kind == "unknown":
        return InvalidRequest(f"Received unknown parameter: {param}", param=param,
                              code="parameter_unknown")
    if v.kind == "type":
        expected = v.expected if isinstance(v.expected, str) else "value"
        word = {"integer": "integer", "boolean": "boolean", "array": "array",
                "object": "hash", "string": "string"}.get(expected, expected)
        shown = v.shown if isinstance(v.value, str | int | float) else type(v.value).__name__
        return InvalidRequest(f"Invalid {word}: {shown}", param=param,
                              code=f"parameter_invalid_{ {'hash': 'object'}.get(word, word) }")
    if v.kind == "enum":
        choices = [str(c) for c in v.expected or [] if c != ""]
        listed = ", ".join(choices[:-1]) + (", or " if len(choices) > 2 else " or ") + choices[-1]
        return InvalidRequest(f"Invalid {param}: must be one of {listed}", param=param,
                              code="parameter_invalid_string")
    if v.kind == "range":
        code = "parameter_invalid_integer" if isinstance(v.value, int) else \
            "parameter_invalid_string" if isinstance(v.value, str) else \
            "parameter_invalid_array" if isinstance(v.value, list) else \
            "parameter_invalid_object"
        return InvalidRequest(f"Invalid {param}: {v.message}", param=param, code=code)
    return InvalidRequest(f"Invalid {param}: {v.message}", param=param,
                          code="parameter_invalid_string")


# -- responses ------------------------------------------------------------------------

_PI_STATUS = {
    Status.REQUIRES_ACTION: "requires_action",
    Status.PENDING: "processing",
    Status.AUTHORIZED: "requires_capture",
    Status.CAPTURED: "succeeded",
    Status.PARTIALLY_REFUNDED: "succeeded",
    Status.REFUNDED: "succeeded",
    Status.VOIDED: "canceled",
    Status.EXPIRED: "canceled",
    Status.FAILED: "requires_payment_method",
}


def pi_status(p: Payment) -> str:
    if p.status is Status.CREATED:
        return "requires_confirmation" if p.extra.get("payment_method") else \
            "requires_payment_method"
    return _PI_STATUS[p.status]


def codes() -> Mapping[str, Mapping[str, Any]]:
    return data_table(__name__)


def decline_fields(p: Payment) -> dict[str, Any]:
    """Stripe's code, decline_code and message for a declined payment."""
    if p.decline_code is not None:  # a native Stripe decline code, from a scenario
        return {"code": "card_declined", "decline_code": p.decline_code,
                "message": "Your card was declined."}
    reason = p.decline or DeclineReason.GENERIC_DECLINE
    return dict(codes()[reason.value])


def last_payment_error(p: Payment, pm: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The failed attempt, with the PaymentMethod it used (decline handling reads its
    brand and last4), in a response, a 402's error and an event alike."""
    if p.status is not Status.FAILED:
        return None
    if pm is None:
        pm = payment_method_of(p)
    f = decline_fields(p)
    err: dict[str, Any] = {
        "code": f["code"],
        "doc_url": f"{DOCS}/error-codes/{f['code'].replace('_', '-')}",
        "message": f["message"],
        "type": "card_error",
        "charge": p.extra.get("charge"),
        "payment_method": pm,
    }
    if f.get("decline_code") and f["code"] != "payment_intent_authentication_failure":
        err["decline_code"] = f["decline_code"]
    if f.get("param"):
        err["param"] = f["param"]
    if f["code"] == "payment_intent_authentication_failure":
        err["type"] = "invalid_request_error"
    return err


def payment_intent(p: Payment, *, pm: Mapping[str, Any] | None = None,
                   expand: Sequence[str] = ()) -> dict[str, Any]:
    x = p.extra
    pm_id = x.get("payment_method")
    status = pi_status(p)
    next_action = None
    if p.status is Status.REQUIRES_ACTION:
        next_action = {"type": "redirect_to_url",
                       "redirect_to_url": {"url": x.get("action_url"),
                                           "return_url": x.get("return_url")}}
    charge_id = x.get("charge") if p.status not in (Status.CREATED, Status.REQUIRES_ACTION) \
        else None
    voided = next((h for h in reversed(p.history) if h.action == "void"), None)
    out: dict[str, Any] = {
        "id": p.id,
        "object": "payment_intent",
        "amount": p.amount,
        "amount_capturable": p.amount_capturable,
        "amount_details": {"tip": {}},
        "amount_received": p.amount_captured,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": x.get("automatic_payment_methods"),
        "canceled_at": int(voided.at) if voided else None,
        "cancellation_reason": _cancellation_reason(voided.detail) if voided else None,
        "capture_method": x.get("capture_method", "automatic_async"),
        "client_secret": x.get("client_secret"),
        "confirmation_method": x.get("confirmation_method", "automatic"),
        "created": int(p.created),
        "currency": p.currency.lower(),
        "customer": x.get("customer"),
        "description": p.description,
        "last_payment_error": last_payment_error(p, pm) if p.status is Status.FAILED else None,
        "latest_charge": charge(p, pm) if charge_id and "latest_charge" in expand else charge_id,
        "livemode": False,
        "metadata": dict(p.metadata),
        "next_action": next_action,
        "on_behalf_of": None,
        "payment_method": pm if pm is not None and "payment_method" in expand else pm_id,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"installments": None, "mandate_options": None,
                                            "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": list(x.get("payment_method_types", ("card",))),
        "processing": None,
        "receipt_email": x.get("receipt_email"),
        "review": None,
        "setup_future_usage": x.get("setup_future_usage"),
        "shipping": shipping(x.get("shipping")),
        "source": None,
        "statement_descriptor": x.get("statement_descriptor"),
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }
    return out


#: Stripe's reasons; a cancellation from elsewhere (the shopper, the admin API) is
#: `abandoned`, the one Stripe gives when no one says why.
_CANCELLATION_REASONS = frozenset({"abandoned", "automatic", "duplicate", "failed_invoice",
                                   "fraudulent", "requested_by_customer", "void_invoice"})


def _cancellation_reason(detail: str | None) -> str | None:
    if detail is None or detail in _CANCELLATION_REASONS:
        return detail
    return "abandoned"


def charge(p: Payment, pm: Mapping[str, Any] | None = None) -> dict[str, Any]:
    x = p.extra
    failed = p.status is Status.FAILED
    captured = p.status in (Status.CAPTURED, Status.PARTIALLY_REFUNDED, Status.REFUNDED)
    f = decline_fields(p) if failed else None
    if failed:
        assert f is not None
        blocked = p.decline is DeclineReason.FRAUDULENT
        outcome = {"network_status": "not_sent_to_network" if blocked
                   else "declined_by_network",
                   "reason": f.get("decline_code"), "risk_level": "highest" if blocked
                   else "normal", "seller_message": "The bank did not return any further "
                   "details with this decline." if not blocked else "Stripe blocked this "
                   "payment as too risky.", "type": "blocked" if blocked else "issuer_declined"}
    else:
        outcome = {"network_status": "approved_by_network", "reason": None,
                   "risk_level": "normal", "risk_score": 32,
                   "seller_message": "Payment complete.", "type": "authorized"}
    card = p.card
    nti = p.credential.network_transaction_id if p.credential and not failed else None
    details = {"brand": card.brand, "country": card.country, "exp_month": card.exp_month,
               "exp_year": card.exp_year, "fingerprint": card.fingerprint,
               "funding": card.funding, "last4": card.last4, "network": card.brand,
               "checks": {"address_line1_check": None, "address_postal_code_check": None,
                          "cvc_check": "pass"},
               "network_transaction_id": nti, "three_d_secure": None} if card else None
    return {
        "id": x.get("charge"),
        "object": "charge",
        "amount": p.amount,
        "amount_captured": p.amount_captured,
        "amount_refunded": p.amount_refunded,
        "balance_transaction": charge_entry_id(p) if captured else None,
        "billing_details": (pm or {}).get("billing_details") or x.get("billing_details")
        or empty_billing_details(),
        "captured": captured,
        "created": int(x.get("charge_created", p.created)),
        "currency": p.currency.lower(),
        "customer": x.get("customer"),
        "description": p.description,
        "disputed": bool(p.disputes),
        "failure_code": f["code"] if f else None,
        "failure_message": f["message"] if f else None,
        "livemode": False,
        "metadata": dict(p.metadata),
        "outcome": outcome,
        "paid": not failed and p.status is not Status.PENDING,
        "payment_intent": p.id,
        "payment_method": x.get("payment_method"),
        "payment_method_details": {"type": "card", "card": details},
        "receipt_email": x.get("receipt_email"),
        "refunded": p.status is Status.REFUNDED,
        "status": "failed" if failed else ("pending" if p.status is Status.PENDING
                                           else "succeeded"),
    }


def refund(p: Payment, r: Refund) -> dict[str, Any]:
    return {
        "id": r.id,
        "object": "refund",
        "amount": r.amount,
        "balance_transaction": refund_entry_id(p.id, r.id),
        "charge": p.extra.get("charge"),
        "created": int(r.created),
        "currency": p.currency.lower(),
        "destination_details": {"type": "card", "card": {"type": "refund"}},
        "metadata": dict(r.metadata),
        "payment_intent": p.id,
        "reason": r.reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": r.status,
        "transfer_reversal": None,
    }


def _address(given: Any) -> dict[str, Any]:
    given = given if isinstance(given, Mapping) else {}
    return {k: given.get(k) for k in ("city", "country", "line1", "line2", "postal_code",
                                      "state")}


def empty_billing_details() -> dict[str, Any]:
    """Stripe always renders billing details as an object, its unknown fields null."""
    return {"address": _address(None), "email": None, "name": None, "phone": None,
            "tax_id": None}


def billing_details(given: Any) -> dict[str, Any] | None:
    """Billing details as given with a card, every field present (None: none given)."""
    if not isinstance(given, Mapping) or not given:
        return None
    return {"address": _address(given.get("address")),
            **{k: given.get(k) for k in ("email", "name", "phone", "tax_id")}}


def shipping(given: Any) -> dict[str, Any] | None:
    """A shipping hash as Stripe renders it: every field present, the unknown ones null."""
    if not isinstance(given, Mapping) or not given:
        return None
    return {"address": _address(given.get("address")),
            **{k: given.get(k) for k in ("carrier", "name", "phone", "tracking_number")}}


def payment_method_of(p: Payment) -> dict[str, Any] | None:
    """The PaymentMethod a payment used, rebuilt from what the payment kept of its card
    (events and reads have no store to look it up in)."""
    c, pm_id = p.card, p.extra.get("payment_method")
    if c is None or not pm_id:
        return None
    return payment_method({
        "id": pm_id, "created": int(p.extra.get("charge_created", p.created)),
        "card": {"brand": c.brand, "last4": c.last4, "exp_month": c.exp_month,
                 "exp_year": c.exp_year, "funding": c.funding, "country": c.country,
                 "fingerprint": c.fingerprint,
                 "checks": {"address_line1_check": None, "address_postal_code_check": None,
                            "cvc_check": "pass"}}})


def payment_method(record: Mapping[str, Any]) -> dict[str, Any]:
    card = dict(record["card"])
    brand = card.get("brand")
    return {
        "id": record["id"],
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": record.get("billing_details") or empty_billing_details(),
        "card": {
            "brand": brand, "checks": card.get("checks"), "country": card.get("country"),
            "display_brand": brand, "exp_month": card.get("exp_month"),
            "exp_year": card.get("exp_year"), "fingerprint": card.get("fingerprint"),
            "funding": card.get("funding"), "generated_from": None,
            "last4": card.get("last4"), "networks": {"available": [brand], "preferred": None},
            "regulated_status": "unregulated", "three_d_secure_usage": {"supported": True},
            "wallet": None},
        "created": record["created"],
        "customer": record.get("customer"),
        "livemode": False,
        "metadata": dict(record.get("metadata") or {}),
        "type": "card",
    }


def card_of(record: Mapping[str, Any]) -> CardDetails:
    c = record["card"]
    return CardDetails(brand=c["brand"], last4=c["last4"], bin=c.get("bin", ""),
                       exp_month=c["exp_month"], exp_year=c["exp_year"],
                       funding=c.get("funding", "credit"), country=c.get("country", "US"),
                       fingerprint=c.get("fingerprint", ""))


def listing(url: str, data: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def event(event_id: str, type_: str, created: float, obj: Mapping[str, Any],
          request_id: str | None, idempotency_key: str | None) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": int(created),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type_,
    }


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


#: The recipe (webhooks.dispatcher.recipe) of each kind of payment event, by the kind
#: `events` is given.
RECIPES = {kind: f"stripe.{kind}" for kind in ("pi", "ch", "efw", "pm", "re")}


def events(namespace: str, now: float,
           made: Sequence[tuple[str, Callable[[], Mapping[str, Any]]]], *,
           kinds: Sequence[tuple[str, str]] = (), source: Source | None = None) -> list[Event]:
    """Stripe events of `(type, object renderer)` pairs, rendered when first sent; with
    `kinds` (`(type, kind)`, one per pair: the kind of object, a key of RECIPES) and
    `source`, each says how to render it again (Event.recipe)."""
    out = []
    for type_, obj in made:
        eid = new_id("evt")
        out.append(Event(
            id=eid, provider="stripe", namespace=namespace, type=type_, created=now,
            render=lambda eid=eid, type_=type_, obj=obj: dumps(  # type: ignore[misc]
                event(eid, type_, now, obj(), None, None))))
    if kinds:
        for e, (_, kind) in zip(out, kinds, strict=True):
            e.recipe, e.source = RECIPES[kind], source
    return out


def fixed_event(namespace: str, key: str, type_: str, now: float,
                obj: Callable[[], Mapping[str, Any]]) -> Event:
    """A Stripe event whose id comes from `key` (what it announces), so that announcing
    the same thing twice sends the same event."""
    eid = "evt_" + hashlib.blake2b(f"{namespace}:{key}".encode(), digest_size=12).hexdigest()
    return Event(id=eid, provider="stripe", namespace=namespace, type=type_, created=now,
                 render=lambda: dumps(event(eid, type_, now, obj(), None, None)))


# -- errors ---------------------------------------------------------------------------

_TYPE = {
    "invalid_request": "invalid_request_error",
    "authentication": "invalid_request_error",
    "resource_missing": "invalid_request_error",
    "route_missing": "invalid_request_error",
    "idempotency": "idempotency_error",
    "conflict": "invalid_request_error",
}


def error_body(exc: ApiError) -> dict[str, Any]:
    err: dict[str, Any] = {"message": exc.message}
    if exc.kind == "card_error":
        err["type"] = "card_error"
    elif exc.status >= 500:
        err["type"] = "api_error"
    else:
        err["type"] = _TYPE.get(exc.kind, "invalid_request_error")
    if exc.code:
        err["code"] = exc.code
        err["doc_url"] = f"{DOCS}/error-codes/{exc.code.replace('_', '-')}"
    if exc.param:
        err["param"] = exc.param
    if exc.kind == "route_missing":
        closest = exc.extra.get("closest") or []
        hint = f" Did you mean: {', '.join(closest)}?" if closest else ""
        err["message"] = (f"{exc.message} Please see {DOCS}/api for the routes Stripe offers."
                          + hint)
    else:
        err.update({k: v for k, v in exc.extra.items() if k != "closest"})
    return {"error": err}


class CardError(ApiError):
    """Stripe's 402: the payment was attempted and declined."""

    status = 402
    kind = "card_error"


# -- webhooks -------------------------------------------------------------------------

class StripeWebhooks:
    """Stripe signs `"{t}.{payload}"` with HMAC-SHA256 keyed by the endpoint secret."""

    # Test mode retries a failed delivery three times over a few hours
    # (https://docs.stripe.com/webhooks#retries); virtual seconds.
    retry_schedule: Sequence[float] = (300.0, 3600.0, 3 * 3600.0)

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        return Signed(body, {"Content-Type": "application/json; charset=utf-8",
                             "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                             "Stripe-Signature": signature_header(body, secret, timestamp)})

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    v1 = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={v1}"
