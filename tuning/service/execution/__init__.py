"""Running a search on the workers: chunks, candidates, rungs, proposals, stopping, endings."""
