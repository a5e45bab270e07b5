"""One adapter per acquirer, each over the provider's own public HTTP API."""
