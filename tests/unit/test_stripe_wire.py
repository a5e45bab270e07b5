"""Stripe's wire format: what the official SDK sends is what the simulator reads, errors
name the parameter as Stripe does, and webhooks verify with the SDK's own verifier."""

from __future__ import annotations

import operator
import re
import string
import time
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st
from stripe._encode import _api_encode

from paysandbox.errors import InvalidRequest
from paysandbox.providers.stripe.wire import parse_form, parse_params, signature_header

CREATE = "create_payment_intent.request"


def sdk_encode(params: dict[str, Any]) -> str:
    """Exactly what stripe-python puts in a request body."""
    return urlencode(list(_api_encode(params)))


def refused(raw: str, contract: str = CREATE) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        parse_params(raw, contract)
    return info.value


# -- parse_form -----------------------------------------------------------------------

def test_hash_syntax() -> None:
    assert parse_form("metadata[order_id]=1&metadata[sku]=a%20b") == {
        "metadata": {"order_id": "1", "sku": "a b"}}


def test_empty_brackets_append_to_a_list() -> None:
    assert parse_form("payment_method_types[]=card&payment_method_types[]=ideal") == {
        "payment_method_types": ["card", "ideal"]}


def test_indexed_list_syntax() -> None:
    assert parse_form("expand[0]=a&expand[1]=b") == {"expand": ["a", "b"]}


def test_indexed_list_follows_the_indexes_not_the_order() -> None:
    assert parse_form("expand[1]=b&expand[0]=a") == {"expand": ["a", "b"]}
    assert parse_form("x[10]=k&x[2]=c&x[0]=a") == {"x": ["a", "c", "k"]}


def test_nested_hashes() -> None:
    body = ("payment_method_data[type]=card&payment_method_data[card][number]=4242424242424242"
            "&payment_method_data[card][exp_month]=12")
    assert parse_form(body) == {"payment_method_data": {
        "type": "card", "card": {"number": "4242424242424242", "exp_month": "12"}}}


def test_list_of_hashes() -> None:
    assert parse_form("items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2") == {
        "items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}]}


def test_blank_values_are_kept() -> None:
    assert parse_form("description=&metadata[k]=&types[]=") == {
        "description": "", "metadata": {"k": ""}, "types": [""]}


def test_percent_encoding_and_plus() -> None:
    assert parse_form("description=a+b%26c%3Dd&metadata[%C3%A9]=%E2%82%AC") == {
        "description": "a b&c=d", "metadata": {"é": "€"}}


def test_empty_body() -> None:
    assert parse_form("") == {}


@pytest.mark.parametrize("body", [
    "metadata=x&metadata[k]=v",
    "metadata[k]=v&metadata=x",
    "a[b]=1&a[b][c]=2",
    "a[b][c]=2&a[b]=1",
])
def test_a_key_given_both_as_value_and_hash_is_refused(body: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_form(body)
    assert "both as a value and as a hash" in info.value.message
    assert info.value.param


@pytest.mark.parametrize("body", ["a[b=1", "a]=1", "a[b]c=1"])
def test_malformed_parameter_names_are_refused(body: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_form(body)
    assert info.value.param == body.split("=")[0]


@pytest.mark.parametrize("body", [
    "x[]=1&x[k]=2",
    "x[]=1&x[0]=2",
])
def test_mixing_list_and_hash_syntax_never_drops_a_value(body: str) -> None:
    """Either refused (as a value given both as a value and a hash is) or both values
    kept: never one of them silently lost."""
    try:
        parsed = parse_form(body)
    except InvalidRequest:
        return
    assert {"1", "2"} <= set(_leaves(parsed)), parsed


def _leaves(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _leaves(v)]
    if isinstance(node, list):
        return [x for v in node for x in _leaves(v)]
    return [node]


# -- round trip with the official SDK's encoder ---------------------------------------

# Parameter names as Stripe's are: never empty, never all digits (that would be a list
# index), no brackets.
keys = st.builds(operator.add, st.sampled_from(string.ascii_lowercase),
                 st.text(alphabet=string.ascii_lowercase + string.digits + "_", max_size=11))
leaves = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.booleans(),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=4),
                            st.dictionaries(keys, inner, min_size=1, max_size=4)),
    max_leaves=20,
)
param_dicts = st.dictionaries(keys, values, max_size=6)


def as_form_strings(value: Any, *, raw: bool = False, in_list: bool = False) -> Any:
    """What a form body carries once the SDK has encoded `value`: every scalar as a
    string. stripe-python writes booleans as "true"/"false", except the scalar items of
    a list, which it hands to urlencode as they are ("True"/"False"). A list inside a
    list is encoded as a hash of its indexes, so its own items are treated as hash
    values."""
    if isinstance(value, bool):
        return str(value) if raw else str(value).lower()
    if isinstance(value, dict):
        return {k: as_form_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        if in_list:
            return [as_form_strings(v) for v in value]
        return [as_form_strings(v, raw=True, in_list=True) for v in value]
    return str(value)


@given(param_dicts)
@settings(max_examples=200, deadline=None)
def test_parse_form_reads_back_what_the_sdk_encodes(params: dict[str, Any]) -> None:
    assert parse_form(sdk_encode(params)) == as_form_strings(params)


@given(st.dictionaries(keys, st.none() | values, max_size=6))
@settings(deadline=None)
def test_none_values_are_not_sent_and_not_read(params: dict[str, Any]) -> None:
    sent = {k: v for k, v in params.items() if v is not None}
    assert parse_form(sdk_encode(params)) == as_form_strings(sent)


def test_sdk_round_trip_of_a_realistic_create_request() -> None:
    params = {
        "amount": 2000, "currency": "usd", "confirm": True, "capture_method": "manual",
        "payment_method_types": ["card"], "expand": ["latest_charge", "payment_method"],
        "metadata": {"order_id": "6735", "note": "a&b=c"},
        "payment_method_data": {"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}},
        "off_session": False,
    }
    parsed = parse_params(sdk_encode(params), CREATE)
    assert parsed == params  # typed back by the contract: ints, booleans, lists


@given(amount=st.integers(min_value=1, max_value=99_999_999),
       currency=st.sampled_from(["usd", "eur", "jpy"]),
       manual=st.booleans(),
       metadata=st.dictionaries(keys, st.text(max_size=30), max_size=5))
@settings(deadline=None)
def test_valid_create_requests_from_the_sdk_are_accepted_and_typed(
        amount: int, currency: str, manual: bool, metadata: dict[str, str]) -> None:
    params: dict[str, Any] = {"amount": amount, "currency": currency,
                              "capture_method": "manual" if manual else "automatic",
                              "confirm": manual}
    if metadata:
        params["metadata"] = metadata
    assert parse_params(sdk_encode(params), CREATE) == params


# -- parse_params: coercion and Stripe's errors ---------------------------------------

def test_coercion_of_integers_booleans_and_lists() -> None:
    assert parse_params("amount=100&currency=usd&confirm=true&expand[0]=latest_charge"
                        "&metadata[n]=123", CREATE) == {
        "amount": 100, "currency": "usd", "confirm": True, "expand": ["latest_charge"],
        "metadata": {"n": "123"}}  # metadata values stay strings


def test_off_session_is_a_boolean_or_one_of_its_names() -> None:
    assert parse_params("amount=1&currency=usd&off_session=true", CREATE)["off_session"] is True
    assert parse_params("amount=1&currency=usd&off_session=false", CREATE)[
        "off_session"] is False
    assert parse_params("amount=1&currency=usd&off_session=one_off", CREATE)[
        "off_session"] == "one_off"


def test_query_string_parameters_of_a_list() -> None:
    assert parse_params("limit=3&expand[]=data.latest_charge", "list_payment_intents.request") \
        == {"limit": 3, "expand": ["data.latest_charge"]}


def test_missing_required_param() -> None:
    err = refused("currency=usd")
    assert err.message == "Missing required param: amount."
    assert err.param == "amount"
    assert err.code == "parameter_missing"
    assert err.status == 400


def test_unknown_param() -> None:
    err = refused("amount=100&currency=usd&foo=1")
    assert err.message == "Received unknown parameter: foo"
    assert err.param == "foo"
    assert err.code == "parameter_unknown"


def test_unknown_nested_param_is_named_in_bracket_syntax() -> None:
    err = refused("amount=100&currency=usd&payment_method_data[card][colour]=red")
    assert err.message == "Received unknown parameter: payment_method_data[card][colour]"
    assert err.param == "payment_method_data[card][colour]"


@pytest.mark.parametrize("raw", ["abc", "1.5", "12e3"])
def test_amount_not_an_integer(raw: str) -> None:
    err = refused(f"amount={raw}&currency=usd")
    assert err.message == f"Invalid integer: {raw}"
    assert err.param == "amount"
    assert err.code == "parameter_invalid_integer"


def test_nested_integer_is_named_in_bracket_syntax() -> None:
    err = refused("amount=100&currency=usd&payment_method_data[card][exp_month]=ab")
    assert err.param == "payment_method_data[card][exp_month]"
    assert err.code == "parameter_invalid_integer"


def test_invalid_boolean() -> None:
    err = refused("amount=100&currency=usd&confirm=yes")
    assert err.message == "Invalid boolean: yes"
    assert err.param == "confirm"
    assert err.code == "parameter_invalid_boolean"


def test_capture_method_not_in_the_enum() -> None:
    err = refused("amount=100&currency=usd&capture_method=later")
    assert err.message == ("Invalid capture_method: must be one of automatic, "
                           "automatic_async, or manual")
    assert err.param == "capture_method"
    assert err.code == "parameter_invalid_string"


def test_two_choice_enum_reads_naturally() -> None:
    err = refused("amount=100&currency=usd&setup_future_usage=sometimes")
    assert err.message == "Invalid setup_future_usage: must be one of on_session or off_session"


@pytest.mark.parametrize("amount", ["-5", "0"])
def test_amount_below_one(amount: str) -> None:
    err = refused(f"amount={amount}&currency=usd")
    assert err.param == "amount"
    assert err.code == "parameter_invalid_integer"
    assert "greater than or equal to 1" in err.message


def test_amount_above_the_maximum() -> None:
    err = refused("amount=100000000&currency=usd")
    assert err.param == "amount"
    assert "less than or equal to 99999999" in err.message


def test_a_list_given_as_a_string() -> None:
    err = refused("amount=100&currency=usd&payment_method_types=card")
    assert err.param == "payment_method_types"
    assert err.code == "parameter_invalid_array"


def test_a_hash_given_as_a_string() -> None:
    err = refused("amount=100&currency=usd&metadata=x")
    assert err.param == "metadata"
    assert err.code == "parameter_invalid_object"


def test_refund_amount_must_be_positive() -> None:
    err = refused("payment_intent=pi_1&amount=-1", "create_refund.request")
    assert err.param == "amount"
    assert err.code == "parameter_invalid_integer"


@pytest.mark.parametrize(("raw", "param"), [
    ("amount=100&currency=us", "currency"),
    ("amount=100&currency=usdd", "currency"),
    ("amount=100&currency=usd&description=" + "d" * 1001, "description"),
    ("amount=100&currency=usd&metadata[k]=" + "v" * 501, "metadata[k]"),
    ("amount=100&currency=usd&" + "&".join(f"metadata[k{i}]=v" for i in range(51)),
     "metadata"),
    ("amount=100&currency=usd&metadata[" + "k" * 41 + "]=v", "metadata"),
    ("amount=100&currency=usd&off_session=sometimes", "off_session"),
])
def test_every_refusal_is_a_readable_sentence_naming_the_param(raw: str, param: str) -> None:
    """Messages people read: the parameter in Stripe's notation, a complete phrase
    ("must be ..."), and nothing of the validator's internals."""
    err = refused(raw)
    assert err.param == param
    assert err.message.startswith(f"Invalid {param}")
    assert err.code is not None and err.code.startswith("parameter_")
    assert "data." not in err.message, err.message  # the validator's variable name
    assert "definition" not in err.message, err.message
    assert not re.match(r"Invalid [^:]+: (be|contain|have) ", err.message), err.message


# -- webhook signatures ---------------------------------------------------------------

def test_signature_header_verifies_with_the_official_sdk() -> None:
    payload = b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}'
    header = signature_header(payload, "whsec_abc", int(time.time()))
    assert stripe.WebhookSignature.verify_header(payload, header, "whsec_abc", tolerance=300)
    event = stripe.Webhook.construct_event(payload, header, "whsec_abc", tolerance=300)
    assert event.id == "evt_1"


@given(payload=st.text(max_size=200), secret=st.text(min_size=1, max_size=40).filter(
    lambda s: s.strip(" \t\r\n\f\v") != ""))
@settings(deadline=None)
def test_any_payload_and_secret_verify(payload: str, secret: str) -> None:
    body = payload.encode()
    header = signature_header(body, secret, int(time.time()))
    assert stripe.WebhookSignature.verify_header(body, header, secret, tolerance=300)


def test_a_tampered_payload_or_another_secret_does_not_verify() -> None:
    payload = b'{"id": "evt_1"}'
    header = signature_header(payload, "whsec_abc", int(time.time()))
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(b'{"id": "evt_2"}', header, "whsec_abc",
                                              tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_other", tolerance=300)


def test_an_old_timestamp_is_outside_the_sdks_tolerance() -> None:
    payload = b"{}"
    then = int(time.time()) - 3600
    header = signature_header(payload, "whsec_abc", then)
    assert header.startswith(f"t={then},v1=")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, header, "whsec_abc", tolerance=300)
