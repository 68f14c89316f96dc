"""Random search: n_iter candidates drawn from the values or ranges, as ParameterSampler draws
them for the run's seed."""

from typing import Any

from tuning.ml.search import SearchSpace
from tuning.models import TuningRun
from tuning.service.execution.preparation import Prepared
from tuning.service.searches.listed import ListedSearch


class RandomSearch(ListedSearch):
    """As RandomizedSearchCV: a sample of the space, on the same splits."""

    kind = "random"
    label = "Random sample"
    explained = (
        "Tries a fixed number of candidates drawn at random from the values or ranges, "
        "as RandomizedSearchCV does."
    )
    needs_n_iter = True

    def words(self, *, n_iter: int | None, halving: dict[str, Any] | None) -> str:
        return f"random search of {n_iter}"

    def listed_space(self, run: TuningRun, work: Prepared) -> SearchSpace:
        return SearchSpace(
            work.param_grid, sampled=True, n_iter=run.n_iter, random_state=run.random_state
        )
