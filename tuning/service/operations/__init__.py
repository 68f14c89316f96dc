"""Keeping the stack honest: health, worker heartbeats and leases, the reconciler."""
