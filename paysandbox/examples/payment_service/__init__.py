"""The reference payment service: the system under test of the demo, the end-to-end
tests and the load tests. A reference, not a product (see README.md)."""
