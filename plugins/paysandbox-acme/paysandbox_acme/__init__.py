"""Acme Acquiring, an in-house acquirer imitated as a payments-sandbox plugin."""
