"""Pure analysis of a run's trials for the pages: scores by parameter, failures, picks."""
