"""What a user asks of a run: check, plan, submit, cancel, refine, notes."""
