"""Search strategies, one class per kind of search, and the registry that names them.

Each kind (`tuning.schemas.SearchKind`) is a `Strategy` (base.py): at submit it owns its space
and schedule, while running its candidates and their splits, and after trials are stored what
opens next; the one evaluation loop (`execution/evaluate.py`), planning and the New run form ask
it. Adding a search is a module here and a line in `STRATEGIES`.
"""

from tuning.schemas import SearchKind
from tuning.service.searches.base import Candidate, Candidates, Resolved, Strategy
from tuning.service.searches.bayes import BayesianSearch
from tuning.service.searches.grid import GridSearch
from tuning.service.searches.halving import HalvingSearch
from tuning.service.searches.randomized import RandomSearch

# In the order the New run form offers them.
STRATEGIES: dict[SearchKind, Strategy] = {
    strategy.kind: strategy
    for strategy in (GridSearch(), RandomSearch(), HalvingSearch(), BayesianSearch())
}


def strategy_for(kind: str) -> Strategy:
    """The strategy of a search kind ("grid", "random", "halving", "bayes")."""
    try:
        return STRATEGIES[kind]  # type: ignore[index]  # a stored run's str, checked here
    except KeyError:
        raise ValueError(f"no search {kind!r}; the searches are {', '.join(STRATEGIES)}") from None


__all__ = ["STRATEGIES", "Candidate", "Candidates", "Resolved", "Strategy", "strategy_for"]
