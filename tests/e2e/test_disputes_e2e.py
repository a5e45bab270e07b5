"""Disputes end to end: a short headless load of the checkout suite against the reference
payment service, with a dispute scenario whose rules ask for known endings (won, lost,
and opened with no time left to answer). After the load the runner advances the
simulator's clock until every dispute is decided; the service must have answered every
dispute it could through the provider's API, and the won / lost / expired counts at the
simulator, in the service's books and in the load report must be what the scenario
asked, rule by rule.

Every provider that renders disputes (it defines `new_dispute_id()`) is in the scenario's
match, so a provider that gains disputes is covered as soon as the load sends it
payments: the card acquirers (Stripe for dollars, Adyen for European currencies,
Checkout.com for the rest). Every such provider is also driven one payment at a time
(the second half of this file), local-method providers included: disputes opened by the
admin API asking for each ending, answered by the service where the provider's API
takes a defence.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from paysandbox.core.disputes import RendersDisputes
from paysandbox.examples.payment_service.adapters.base import Defends
from paysandbox.examples.payment_service.config import for_simulator
from paysandbox.examples.payment_service.server import ServiceServer, simulator_providers
from paysandbox.loadtests import run as load_run
from paysandbox.providers.base import available
from paysandbox.testing.server import SimulatorServer
from tests import waiting

#: Providers whose disputes the simulator renders.
DISPUTING = sorted(name for name, ep in available().items()
                   if isinstance(ep.load(), RendersDisputes))

#: Rule name -> (the canonical reason it opens, how it is asked to end). One reason per
#: rule, so that each dispute says which rule opened it.
ASKED = {"won": ("fraudulent", "won"), "lost": ("product_not_received", "lost"),
         "expired": ("duplicate", "expired")}


def scenario() -> dict[str, Any]:
    """Every captured payment at a provider with disputes is disputed: a third won, a
    third lost, a third opened with its evidence window already closed."""
    match = {"provider": DISPUTING, "operation": ["authorize", "capture"]}
    rules = []
    for (name, (reason, ends)), probability in zip(ASKED.items(), (1 / 3, 1 / 2, 1.0),
                                                   strict=True):
        dispute: dict[str, Any] = {"reason": reason, "after": "3d", "ends": ends,
                                   "probability": probability}
        if ends != "expired":
            dispute |= {"evidence_window": "7d", "decide_after": "1d"}
        rules.append({"name": name, "match": match, "dispute": dispute})
    return {"name": "disputes-e2e", "seed": 18, "rules": rules}


@pytest.fixture(scope="module")
def service(simulator: SimulatorServer) -> Iterator[ServiceServer]:
    config = for_simulator(simulator.base_url, simulator_providers(simulator.base_url),
                           retries=1, backoff_s=0.01)
    server = ServiceServer(config).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def loaded(simulator: SimulatorServer, service: ServiceServer,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the load once; what the scenario, the simulator and the service say after."""
    tmp = tmp_path_factory.mktemp("disputes-e2e")
    path = tmp / "disputes-e2e.yaml"
    path.write_text(yaml.safe_dump(scenario(), sort_keys=False))
    report = tmp / "report"
    with pytest.MonkeyPatch.context() as mp:
        # Cards only, captured at once, never refunded or declined: every payment the
        # scenario's rules see is captured by that very request, so each rule it applies
        # opens exactly one dispute.
        mp.setenv("LOAD_LOCAL_METHOD_RATIO", "0")
        code = load_run.main([
            "--suite", "checkout", "--target", service.url,
            "--simulator", simulator.base_url, "--users", "4", "--spawn-rate", "4",
            "--run-time", "6s", "--scenario", str(path), "--report", str(report),
            "--dispute-timeout", "30", "--quiet",
            "--locust-arg=--capture-ratio=0", "--locust-arg=--refund-ratio=0",
            "--locust-arg=--three-ds-ratio=0", "--locust-arg=--decline-ratio=0"])
    assert code == 0, (report / "locust.log").read_text()[-3000:]
    status = simulator.admin("GET", "/scenarios/disputes-e2e")
    payments = simulator.admin("GET", "/payments?limit=10000")["payments"]
    return {"report": report,
            "applied": {r["name"]: r["applied"] for r in status["rules"]},
            "disputes": [(p, d) for p in payments for d in p["disputes"]],
            "payments": payments,
            "service": service.call("GET", "/stats")[1]["counts"]}


def test_stripe_is_among_the_providers_with_disputes() -> None:
    assert "stripe" in DISPUTING


def test_every_dispute_ends_as_its_rule_asked(loaded: dict[str, Any]) -> None:
    disputes = loaded["disputes"]
    by_reason = {reason: ends for reason, ends in ASKED.values()}
    outcomes = Counter()
    for p, d in disputes:
        asked = by_reason[d["reason"]]
        got = "expired" if d["expired"] else d["status"]
        assert got == asked, (p["provider"], p["id"], d)
        outcomes[got] += 1
    # A real mix, whatever the load's exact size.
    assert all(outcomes[o] > 0 for o in ("won", "lost", "expired")), outcomes


def test_the_simulator_opened_as_many_disputes_as_the_scenario_applied_rules(
        loaded: dict[str, Any]) -> None:
    opened = Counter(d["reason"] for _, d in loaded["disputes"])
    asked = {reason: loaded["applied"][name] for name, (reason, _) in ASKED.items()}
    assert dict(opened) == {r: n for r, n in asked.items() if n}


def test_every_captured_payment_at_a_provider_with_disputes_was_disputed(
        loaded: dict[str, Any]) -> None:
    captured = [p for p in loaded["payments"]
                if p["provider"] in DISPUTING and p["amount_captured"] > 0]
    assert any(p["provider"] == "stripe" for p in captured)
    assert [p["id"] for p in captured if len(p["disputes"]) != 1] == []


def test_the_service_answered_every_dispute_that_could_still_be_answered(
        loaded: dict[str, Any]) -> None:
    for p, d in loaded["disputes"]:
        if d["reason"] == ASKED["expired"][0]:
            assert d["submissions"] == 0, d  # its window had closed when it opened
        else:
            assert d["submissions"] == 1, (p["provider"], d)
            assert d["evidence"], d


def _totals(counts: Counter[tuple[str, str]]) -> dict[tuple[str, str], int]:
    return {k: n for k, n in counts.items() if n}


def test_the_service_booked_the_outcomes_the_simulator_decided(
        loaded: dict[str, Any]) -> None:
    at_simulator: Counter[tuple[str, str]] = Counter()
    for p, d in loaded["disputes"]:
        at_simulator[(p["provider"], "expired" if d["expired"] else d["status"])] += 1
        at_simulator[(p["provider"], "opened")] += 1
    booked: Counter[tuple[str, str]] = Counter()
    for key, n in loaded["service"].items():
        if key.startswith("dispute:"):
            _, provider, *_, outcome = key.split(":")
            booked[(provider, outcome)] += n
    assert _totals(booked) == _totals(at_simulator)


def test_the_load_report_counts_the_disputes_by_provider_reason_and_outcome(
        loaded: dict[str, Any]) -> None:
    report: Path = loaded["report"]
    summary = (report / "summary.md").read_text()
    line = re.search(r"^- disputes at the simulator: (.*)$", summary, re.M)
    assert line is not None, summary
    counted = Counter()
    for item in line.group(1).split(", "):
        provider, reason, outcome, n = item.split(" ")
        counted[(provider, reason, outcome)] += int(n)
    expected = Counter((p["provider"], d["reason"], "expired" if d["expired"] else d["status"])
                       for p, d in loaded["disputes"])
    assert counted == expected
    booked = re.search(r"^- disputes booked by the service: (.*)$", summary, re.M)
    assert booked is not None and "stripe fraudulent won" in booked.group(1), summary
    assert "advanced 3d 1s then 7d 1h" in summary
    page = (report / "report.html").read_text()
    assert "<h2>Disputes</h2>" in page and "Disputes by provider and outcome" in page


# -- every provider with disputes, driven one payment at a time ------------------------
#
# The checkout load pays by card, so it reaches the card acquirers only (Stripe, Adyen,
# Checkout.com); a provider whose payments in the reference service are local methods
# (Mollie's iDEAL, Mercado Pago's PIX, Razorpay's UPI, Daraja's M-Pesa) is driven here:
# a payment through the service, paid, then disputes opened by the admin API asking for
# each ending, the clock advanced past their windows.

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}
BUYER = {"email": "shopper@example.com", "name": "Ana Souza"}
#: A payment the reference service routes to each provider, captured once paid.
PAY: dict[str, dict[str, Any]] = {
    "stripe": {"currency": "usd", "card": CARD, "customer": BUYER},
    "adyen": {"currency": "eur", "country": "DE", "card": CARD, "customer": BUYER},
    "checkoutcom": {"currency": "mxn", "country": "MX", "card": CARD, "customer": BUYER},
    "mollie": {"currency": "eur", "method": "ideal", "country": "NL",
               "ideal": {"issuer": "ideal_INGBNL2A"}, "customer": BUYER},
    "mercadopago": {"currency": "brl", "method": "pix", "country": "BR", "customer": BUYER},
    "razorpay": {"currency": "inr", "method": "upi", "country": "IN",
                 "upi": {"vpa": "shopper@okhdfcbank"},
                 "customer": {**BUYER, "phone": "9000090000"}},
    # The simulator's handset that never answers by itself: the admin API pays it.
    "daraja": {"currency": "kes", "method": "mpesa", "country": "KE",
               "customer": {"phone": "254700001037"}},
}
#: Asked ending -> (reason, the admin API's dispute fields).
DRIVEN = {"won": ("fraudulent", {"evidence_window": "2d", "decide_after": "1h"}),
          "lost": ("product_not_received", {"evidence_window": "2d", "decide_after": "1h"}),
          "expired": ("duplicate", {})}


#: Dispute steps cross the service and its webhooks: a little longer than the default.
wait_until = functools.partial(waiting.wait_until, timeout=15)


@pytest.fixture
def fresh(simulator: SimulatorServer) -> Iterator[tuple[SimulatorServer, ServiceServer]]:
    """The module's simulator, reset, and a service of its own (the load's books stay
    as the load left them)."""
    simulator.reset()
    config = for_simulator(simulator.base_url, simulator_providers(simulator.base_url),
                           retries=1, backoff_s=0.01)
    server = ServiceServer(config).start()
    yield simulator, server
    server.stop()


def paid(service: ServiceServer, simulator: SimulatorServer, provider: str,
         amount: int) -> dict[str, Any]:
    """A payment captured at `provider` through the service (a local method paid by the
    tester through the admin API, as the load does)."""
    status, p = service.call("POST", "/payments", {"amount": amount, **PAY[provider]})
    assert (status, p.get("provider")) == (201, provider), p
    if p["status"] == "pending":
        simulator.client.complete(p["provider_reference"], "success")
        payments = service.service.payments
        assert wait_until(lambda: payments[p["id"]]["status"] == "captured"), payments[p["id"]]
    else:
        assert p["status"] == "captured", p
    return p


def test_every_provider_in_the_list_has_a_way_to_pay_there() -> None:
    assert [p for p in DISPUTING if p not in PAY] == []


def test_each_way_to_pay_captures_a_payment_at_its_provider(
        fresh: tuple[SimulatorServer, ServiceServer]) -> None:
    """The table above works for every provider, not only those with disputes today."""
    simulator, service = fresh
    for provider in PAY:
        p = paid(service, simulator, provider, 3000)
        at = simulator.admin("GET", f"/payments/{p['provider_reference']}")
        assert (at["provider"], at["status"], at["amount_captured"]) == \
            (provider, "captured", 3000)


#: Providers whose API announces a chargeback and its reversal but never that it stands
#: (Mollie takes no defence: a chargeback is final unless the provider reverses it), so
#: the service keeps one that stands open.
ANNOUNCES_ONLY_REVERSALS = frozenset({"mollie"})


@pytest.mark.parametrize("provider", DISPUTING)
def test_disputes_opened_by_the_admin_api_end_as_asked_at_the_simulator_and_the_service(
        provider: str, fresh: tuple[SimulatorServer, ServiceServer]) -> None:
    simulator, service = fresh
    defends = isinstance(service.service.adapters[provider], Defends)
    opened = {}
    for n, (asked, (reason, fields)) in enumerate(DRIVEN.items()):
        p = paid(service, simulator, provider, 2500 + 100 * n)
        body = {"reason": reason, "ends": asked, **fields}
        simulator.admin("POST", f"/payments/{p['provider_reference']}/dispute", body)
        opened[asked] = p
    books = service.service.payments

    def recorded(p: dict[str, Any]) -> list[dict[str, Any]]:
        return list(books[p["id"]]["disputes"].values())

    # The service heard of every dispute, and answered those it still could.
    assert wait_until(lambda: all(recorded(p) for p in opened.values())), opened
    if defends:
        for asked in ("won", "lost"):
            assert wait_until(lambda a=asked: recorded(opened[a])[0]["answered"]), \
                recorded(opened[asked])
    simulator.advance_clock("3d")
    reverses = provider in ANNOUNCES_ONLY_REVERSALS

    def outcome(asked: str) -> str:
        """At the simulator: a provider whose API takes no defence loses every dispute
        at its deadline, unless it reverses the chargeback itself (Mollie)."""
        won = asked == "won" and (defends or reverses)
        return asked if defends or asked == "expired" or won else "expired"

    def booked_as(asked: str) -> str | None:
        """In the service's books: what the provider announced."""
        return outcome(asked) if not reverses or outcome(asked) == "won" else None

    assert wait_until(lambda: all(recorded(p)[0]["outcome"] == booked_as(a)
                                  for a, p in opened.items())), \
        {a: recorded(p) for a, p in opened.items()}
    for asked, p in opened.items():
        (d,) = simulator.admin("GET", f"/payments/{p['provider_reference']}")["disputes"]
        assert ("expired" if d["expired"] else d["status"]) == outcome(asked), (asked, d)
        defended = (defends and asked != "expired") or (reverses and asked == "won")
        assert d["submissions"] == (1 if defended else 0), d
        (booked,) = recorded(p)
        assert booked["outcome"] == booked_as(asked), (asked, booked)
    counts = service.call("GET", "/stats")[1]["counts"]
    booked_counts = Counter(key.rsplit(":", 1)[1] for key, n in counts.items()
                            for _ in range(n) if key.startswith(f"dispute:{provider}:"))
    finals = [booked_as(a) for a in DRIVEN]
    assert booked_counts == Counter({"opened": 3, **Counter(f for f in finals if f)})
