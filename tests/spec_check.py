"""Every body the simulator emits for Stripe, Adyen and Checkout.com, checked against the
provider's published OpenAPI document (a required field, a type, an enum, a nullability
it states), beside our own contracts.

The documents are reference data kept beside the repository, in
../shared/provider-specs/ (see its README); `tests/conftest.py` runs this after every
test that used the simulator. A spec older than the API the simulator speaks lacks some
fields: a field it does not list is not an error (OpenAPI objects are open).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "provider-specs"

#: provider -> (spec file, how our journal's path starts before the spec's path)
DOCUMENTS: Mapping[str, tuple[str, str]] = {
    "stripe": ("stripe/spec3-2023-08-16.trimmed.json", r"/stripe"),
    "adyen": ("adyen/CheckoutService-v71.json", r"/adyen/checkout/v\d+"),
    "checkoutcom": ("checkoutcom/nas_spec-2021-07.trimmed.json", r"/checkoutcom"),
}

#: Documents of webhooks a provider sends, where they are apart from its API's.
WEBHOOK_DOCUMENTS: Mapping[str, str] = {"adyen-webhooks": "adyen/Webhooks-v1.json"}


def missing() -> str | None:
    """Why the check cannot run (the documents are absent), or None."""
    absent = [name for name in (*(n for n, _ in DOCUMENTS.values()),
                                *WEBHOOK_DOCUMENTS.values())
              if not (SPECS / name).is_file()]
    if not absent:
        return None
    return (f"the providers' published OpenAPI documents ({', '.join(absent)}) are not in "
            f"{SPECS}: put them there (../shared/provider-specs/ beside the repository; its "
            "README says where each comes from)")


def required_in_ci() -> bool:
    return bool(os.environ.get("CI"))


def _nullable_to_union(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema: null joins the type (or the enum)."""
    if isinstance(node, list):
        return [_nullable_to_union(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_union(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "type" not in out:
            return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _document(provider: str) -> dict[str, Any]:
    name = WEBHOOK_DOCUMENTS.get(provider) or DOCUMENTS[provider][0]
    doc = json.loads((SPECS / name).read_text(encoding="utf-8"))
    if provider == "checkoutcom":  # the erratum its README names: `id` is never defined
        doc["components"]["schemas"]["PaymentResponseBalances"].pop("required", None)
        # Dispute.relevant_evidence types its items as arrays yet lists strings as
        # their values, which nothing satisfies; its description means a list of them.
        items = doc["components"]["schemas"]["Dispute"]["properties"]["relevant_evidence"][
            "items"]
        items.pop("type", None)
        items.pop("items", None)
    if str(doc.get("openapi", "")).startswith("3.0"):
        doc = _nullable_to_union(doc)
    return doc  # type: ignore[no-any-return]


@functools.cache
def _registry(provider: str) -> tuple[str, Registry]:
    doc = _document(provider)
    spec = DRAFT202012 if str(doc.get("openapi", "")).startswith("3.1") else DRAFT4
    uri = f"urn:spec:{provider}"
    return uri, Registry().with_resource(uri, Resource.from_contents(
        copy.deepcopy(doc), default_specification=spec))


def _validator(provider: str, pointer: str) -> Any:
    uri, registry = _registry(provider)
    doc = _document(provider)
    cls = jsonschema.Draft202012Validator if str(doc.get("openapi", "")).startswith("3.1") \
        else jsonschema.Draft4Validator
    return cls({"$ref": f"{uri}#{pointer}"}, registry=registry)


@functools.cache
def _routes(provider: str) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for path in _document(provider)["paths"]:
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path))
        out.append((re.compile(f"^{pattern}/?$"), path))
    # Literal segments before parameters: /payments/{id}/actions is not /payments/{id}.
    out.sort(key=lambda pair: pair[1].count("{"))
    return out


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _response_pointer(provider: str, method: str, path: str, status: int) -> str | None:
    _, prefix = DOCUMENTS[provider]
    m = re.match(prefix, path)
    if m is None:
        return None
    rest = path[m.end():]
    for pattern, spec_path in _routes(provider):
        if not pattern.match(rest):
            continue
        op = _document(provider)["paths"][spec_path].get(method.lower())
        if op is None:
            return None
        responses = op.get("responses", {})
        code = str(status) if str(status) in responses else \
            f"{str(status)[0]}XX" if f"{str(status)[0]}XX" in responses else \
            "default" if "default" in responses else None
        content = (responses.get(code) or {}).get("content", {})
        if code is None or "application/json" not in content:
            return None
        return (f"/paths/{_escape(spec_path)}/{method.lower()}/responses/{code}/content/"
                "application~1json/schema")
    return None


def problems(provider: str, pointer: str, body: Any, what: str) -> Iterator[str]:
    for e in sorted(_validator(provider, pointer).iter_errors(body), key=str):
        if e.validator == "oneOf" and not e.context:
            continue  # valid under more than one alternative: the spec's loose oneOf
        while e.context:  # a oneOf/anyOf: the alternative that came closest, and why
            e = jsonschema.exceptions.best_match(e.context)
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
        yield f"{what}: {path or '(body)'}: {e.message[:300]}"


def _stripe_object(body: Any, what: str) -> Iterator[str]:
    """A Stripe event's `data.object` against the schema of its own type."""
    obj = (body.get("data") or {}).get("object") if isinstance(body, dict) else None
    kind = obj.get("object") if isinstance(obj, dict) else None
    if kind and kind in _document("stripe")["components"]["schemas"]:
        yield from problems("stripe", f"/components/schemas/{kind}", obj,
                            f"{what} data.object ({kind})")


def journal_problems(provider: str, entries: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """What the spec says is wrong with each journaled response of `provider`."""
    for e in entries:
        body = e.get("response")
        if not isinstance(body, dict | list) or e.get("fault"):
            continue
        pointer = _response_pointer(provider, e["method"], e["path"], e["status"])
        if pointer is None:
            continue
        what = f"{e['method']} {e['path']} -> {e['status']}"
        yield from problems(provider, pointer, body, what)
        if provider == "stripe" and isinstance(body, dict):
            items = body.get("data") if body.get("object") == "list" else [body]
            for item in items or ():
                if isinstance(item, dict) and item.get("object") == "event":
                    yield from _stripe_object(item, what)


def webhook_problems(provider: str, body: Any, what: str) -> Iterator[str]:
    """A webhook body against the spec (Stripe: the event and its object; Adyen: the
    notification of each item's eventCode; Checkout.com's spec describes no webhooks)."""
    if provider == "stripe":
        yield from problems("stripe", "/components/schemas/event", body, what)
        yield from _stripe_object(body, what)
    elif provider == "adyen":
        hooks = _document("adyen-webhooks")["webhooks"]
        for item in body.get("notificationItems", []):
            code = (item.get("NotificationRequestItem") or {}).get("eventCode")
            if f"/{code}" in hooks:  # one item per notification, as Adyen sends them
                yield from problems("adyen-webhooks", f"/webhooks/~1{code}/post/requestBody/"
                                    "content/application~1json/schema", body, what)
