"""Examples that use payments-sandbox; `payment_service` is the reference SUT."""
