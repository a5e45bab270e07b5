"""Testing helpers: a pytest plugin with a `payment_simulator` fixture."""
