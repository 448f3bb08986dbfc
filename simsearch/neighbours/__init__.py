"""Every document against every other: near-duplicates and clusters."""
