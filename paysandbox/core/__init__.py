"""Provider-neutral payment domain: money, cards, outcomes and time."""
