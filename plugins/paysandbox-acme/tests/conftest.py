"""The simulator fixtures come from payments-sandbox's own pytest plugin."""
