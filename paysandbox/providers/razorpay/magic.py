"""Razorpay's documented test-mode values for S2S UPI collect, and what they do.

Sources: "UPI Collect: How to Test Your Integration" (test VPAs `success@razorpay`
and `failure@razorpay`) and "S2S UPI Error Codes", whose Test Mode column names the
amount (in paise) that reproduces each failure. An amount rule wins over the VPA.

Any other well-formed VPA leaves the collect request waiting for the customer, as a
real one does: it is completed from the admin API (`complete`), by a scenario, or
fails when its `upi.expiry_time` runs out on the virtual clock.
"""

from __future__ import annotations

import re

from paysandbox.core.outcomes import DeclineReason, Outcome

R = DeclineReason

SUCCESS_VPA = "success@razorpay"
FAILURE_VPA = "failure@razorpay"

#: Virtual seconds between the collect request and the test customer's answer.
APPROVAL_DELAY = 3.0

#: Collect request lifetime in minutes when `upi.expiry_time` is not given.
DEFAULT_EXPIRY_MINUTES = 5
MIN_EXPIRY_MINUTES = 5
MAX_EXPIRY_MINUTES = 5760

BY_AMOUNT: dict[int, Outcome] = {
    201: Outcome.decline(R.INSUFFICIENT_FUNDS),
    402: Outcome.decline(R.DO_NOT_HONOR),
    204: Outcome.decline(R.AUTHENTICATION_FAILED, native_code="incorrect_pin"),
    302: Outcome.decline(R.GENERIC_DECLINE, native_code="payment_cancelled"),
}

BY_VPA: dict[str, Outcome] = {
    SUCCESS_VPA: Outcome.approve(),
    FAILURE_VPA: Outcome.decline(R.GENERIC_DECLINE),
}

# handle@psp: the handle as NPCI allows it, the PSP a bank or app handle.
_VPA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,255}@[A-Za-z][A-Za-z0-9]{1,63}$")


def valid_vpa(vpa: str) -> bool:
    return _VPA.match(vpa) is not None


def outcome_for(vpa: str, amount: int) -> Outcome | None:
    """How the test customer answers the collect request; None: they never do."""
    by_amount = BY_AMOUNT.get(amount)
    if by_amount is not None:
        return by_amount
    return BY_VPA.get(vpa.lower())


#: Razorpay failures with no canonical reason of their own: "S2S UPI Error Codes" rows
#: 3 and 4 (test amounts 204 and 302) and a collect request that expired.
NATIVE_FAILURES: dict[str, dict[str, str]] = {
    "incorrect_pin": {
        "code": "BAD_REQUEST_ERROR", "reason": "incorrect_pin", "source": "customer",
        "step": "payment_authentication",
        "description": "You have entered an incorrect PIN on the UPI app. Please retry with "
                       "the correct PIN."},
    "payment_cancelled": {
        "code": "BAD_REQUEST_ERROR", "reason": "payment_cancelled", "source": "customer",
        "step": "payment_authentication",
        "description": "You may have cancelled the payment or there was a delay in response "
                       "from the UPI app."},
    "payment_timed_out": {
        "code": "BAD_REQUEST_ERROR", "reason": "payment_timed_out", "source": "customer",
        "step": "payment_authentication",
        "description": "The payment was not completed in time: the collect request expired "
                       "before the customer approved it."},
}
