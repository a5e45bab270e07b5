"""The simulator's own M-Pesa Express test values (Daraja's sandbox has none that
choose an outcome) and the sandbox passkey.

PhoneNumber: the last four digits name the result code the customer's handset sends
back, 3 virtual seconds after the push; every other Safaricom number pays.

| PhoneNumber    | ResultCode | what the customer did                        |
|----------------|-----------|-----------------------------------------------|
| 254700000001   | 1         | insufficient M-Pesa balance                   |
| 254700001032   | 1032      | cancelled the prompt                          |
| 254700001037   | 1037      | never answered: the prompt expires after 60 s |
| 254700002001   | 2001      | entered a wrong PIN                           |
| any other      | 0         | entered the PIN: paid                         |

Passkeys: shortcode 174379 uses Safaricom's documented sandbox passkey; any other
shortcode uses the passkey set for it in PAYSANDBOX_DARAJA_PASSKEYS
("600000=<passkey>,600001=<passkey>"), else the same sandbox passkey.
"""

from __future__ import annotations

import os

from paysandbox.core.outcomes import DeclineReason, Outcome

R = DeclineReason

SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"

#: Virtual seconds between the push and the customer's answer.
ANSWER_DELAY = 3.0
#: Virtual seconds the prompt stays on the handset before M-Pesa gives up (1037).
PROMPT_TIMEOUT = 60.0
#: Virtual seconds an access token lives (Daraja's `expires_in`).
TOKEN_TTL = 3599

NO_ANSWER = "1037"

BY_PHONE: dict[str, Outcome | None] = {
    "254700000001": Outcome.decline(R.INSUFFICIENT_FUNDS, native_code="1"),
    "254700001032": Outcome.decline(R.GENERIC_DECLINE, native_code="1032"),
    "254700001037": None,  # no answer: expires
    "254700002001": Outcome.decline(R.AUTHENTICATION_FAILED, native_code="2001"),
}


def outcome_for(phone: str) -> Outcome | None:
    """What the handset answers; None: it never does."""
    return BY_PHONE.get(phone, Outcome.approve())


def _configured() -> dict[str, str]:
    pairs = (p.partition("=") for p in
             os.environ.get("PAYSANDBOX_DARAJA_PASSKEYS", "").split(",") if "=" in p)
    return {k.strip(): v.strip() for k, _, v in pairs}


PASSKEYS: dict[str, str] = {SANDBOX_SHORTCODE: SANDBOX_PASSKEY, **_configured()}


def passkey(shortcode: str) -> str:
    return PASSKEYS.get(shortcode, SANDBOX_PASSKEY)


#: ResultDesc of each M-Pesa Express ResultCode (Daraja's result code table).
RESULT_DESCS: dict[str, str] = {
    "0": "The service request is processed successfully.",
    "1": "The balance is insufficient for the transaction.",
    "1032": "Request cancelled by user",
    "1037": "DS timeout user cannot be reached",
    "2001": "The initiator information is invalid.",
    "1019": "Transaction has expired",
    "1001": "Unable to lock subscriber, a transaction is already in process for the "
            "current subscriber",
    "1025": "An error occurred while sending a push request",
    "17": "System internal error.",
    "26": "System busy. The service request is rejected.",
}
