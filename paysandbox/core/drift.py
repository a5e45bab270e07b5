"""Settlement that does not match the books, on purpose: what a scenario's `settlement:`
section injects into the providers' balance, payout and settlement surfaces, so that a
reconciliation job can be tested against the discrepancies real reports have.

Which lines and payouts are hit is decided by a rate or a trigger. A rate (`share`) picks
by a hash of the scenario's seed, the kind of discrepancy and the line's or payout's id:
the same ones every time the books are read, in every process. A trigger names them: a
line kind's `amount` hits the lines of that amount (a charge or refund of 13.13 in the
payment's own currency is `amount: 1313`), a payout kind's `payout: N` the account's
Nth payout (per merchant account where a provider settles them apart). Both may be
given; either hits. `injected` says exactly which were hit (the admin API's ledger shows
them beside the truth).

- `missing_line`, `duplicated_line`: a share of entries left out of, or listed twice in,
  what the provider reports (the money moved as the books say);
- `fee_mismatch`: a share of charges whose fee is `by` minor units more than the
  pricing says (the payout is that much smaller);
- `fx_rounding`: a share of converted charges `by` minor units off the rate;
- `late_payout`: a share of payouts arriving `by` seconds later;
- `failed_payout`: a share of payouts that fail (their amount returns to the balance);
- `partial_payout`: a share of payouts that pay only `paid` of their amount.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from paysandbox.core.fees import FeeLine
from paysandbox.core.ledger import Entry, Payout

__all__ = ["Drift", "Injected", "drift_entries", "drift_lines", "drift_payouts"]


@dataclass(frozen=True, slots=True)
class Share:
    share: float
    by: float = 0.0  # minor units (fees, FX) or seconds (late payouts)
    paid: float = 1.0  # partial payouts: the part paid
    amount: int | None = None  # trigger: lines of this amount (minor units)
    payout: int | None = None  # trigger: the account's Nth payout (1 is the first)


@dataclass(frozen=True, slots=True)
class Drift:
    """A scenario's `settlement:` section, compiled; `seed` picks the lines."""

    seed: str
    kinds: Mapping[str, Share] = field(default_factory=dict)

    @classmethod
    def compile(cls, spec: Mapping[str, Any], seed: object) -> Drift:
        kinds: dict[str, Share] = {}
        for kind, value in spec.items():
            if isinstance(value, Mapping):
                kinds[kind] = Share(float(value.get("share", 0)), float(value.get("by", 0)),
                                    float(value.get("paid", 1)), value.get("amount"),
                                    value.get("payout"))
            else:
                kinds[kind] = Share(float(value))
        return cls(str(seed), kinds)

    def hits(self, kind: str, item_id: str, *, amount: int | None = None,
             nth: int | None = None) -> Share | None:
        """Whether discrepancy `kind` hits the line or payout `item_id` (a line of
        `amount`, the account's `nth` payout): its trigger names it or its rate picks it."""
        share = self.kinds.get(kind)
        if share is None:
            return None
        if (share.amount is not None and amount == share.amount) or \
                (share.payout is not None and nth == share.payout):
            return share
        if share.share <= 0:
            return None
        digest = hashlib.blake2b(f"{self.seed}:{kind}:{item_id}".encode(), digest_size=8)
        return share if int.from_bytes(digest.digest(), "big") / 2 ** 64 < share.share \
            else None


@dataclass(frozen=True, slots=True)
class Injected:
    """One discrepancy put into what a provider reports."""

    kind: str
    id: str  # the entry's or payout's
    detail: str


def drift_entries(entries: Sequence[Entry], d: Drift,
                  injected: list[Injected]) -> list[Entry]:
    """The money-moving discrepancies of entries: fees above the pricing, conversions
    off the rate (before payouts are made of them)."""
    out = []
    for e in entries:
        fee = d.hits("fee_mismatch", e.id, amount=_amount(e)) if e.fees else None
        if fee is not None:
            extra = int(fee.by)
            first = e.fees[0]
            e = dataclasses.replace(e, fees=(FeeLine(first.kind, first.amount + extra,
                                                     first.description), *e.fees[1:]))
            injected.append(Injected("fee_mismatch", e.id, f"fee {extra:+d} over the pricing"))
        fx = d.hits("fx_rounding", e.id, amount=_amount(e)) \
            if e.exchange_rate is not None else None
        if fx is not None:
            off = int(fx.by)
            e = dataclasses.replace(e, amount=e.amount + off)
            injected.append(Injected("fx_rounding", e.id, f"converted amount {off:+d}"))
        out.append(e)
    return out


def _amount(e: Entry) -> int:
    """What a line's `amount` trigger is compared with: the payment's own amount."""
    return abs(e.original_amount if e.original_amount is not None else e.amount)


def drift_payouts(payouts: Sequence[Payout], d: Drift,
                  injected: list[Injected]) -> list[Payout]:
    """The payouts' discrepancies; `payouts` oldest first, so each one's place among its
    (sub-)account's is what a `payout: N` trigger names."""
    out = []
    counted: dict[str, int] = {}
    for p in payouts:
        nth = counted[p.sub_account] = counted.get(p.sub_account, 0) + 1
        if d.hits("failed_payout", p.id, nth=nth) is not None:
            p = dataclasses.replace(p, failed=True)
            injected.append(Injected("failed_payout", p.id, "the payout failed"))
        elif (part := d.hits("partial_payout", p.id, nth=nth)) is not None:
            paid = int(p.amount * part.paid)
            injected.append(Injected("partial_payout", p.id, f"paid {paid} of {p.amount}"))
            p = dataclasses.replace(p, amount=paid)
        if (late := d.hits("late_payout", p.id, nth=nth)) is not None:
            p = dataclasses.replace(p, arrival=p.arrival + late.by)
            injected.append(Injected("late_payout", p.id, f"arrives {late.by:g} s late"))
        out.append(p)
    return out


def drift_lines(entries: Sequence[Entry], d: Drift,
                injected: list[Injected]) -> list[Entry]:
    """What a provider's report lists: some lines missing, some twice."""
    out = []
    for e in entries:
        if d.hits("missing_line", e.id, amount=_amount(e)) is not None:
            injected.append(Injected("missing_line", e.id, "left out of the reports"))
            continue
        out.append(e)
        if d.hits("duplicated_line", e.id, amount=_amount(e)) is not None:
            injected.append(Injected("duplicated_line", e.id, "listed twice"))
            out.append(e)
    return out
