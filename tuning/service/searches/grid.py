"""Grid search: every combination of the values given, in ParameterGrid's order."""

import math
from typing import Any

from tuning.config import Settings
from tuning.ml.search import SearchSpace
from tuning.models import TuningRun
from tuning.schemas import TuningRunCreate
from tuning.service.execution.preparation import Prepared
from tuning.service.searches.base import check_total
from tuning.service.searches.listed import ListedSearch


class GridSearch(ListedSearch):
    """As GridSearchCV: every combination, on the same splits."""

    kind = "grid"
    label = "Every combination"
    explained = "Tries every combination of the values given, as GridSearchCV does."
    fixes_seed = False  # nothing is drawn: the seed is only the estimators', if given

    def check_size(self, run_in: TuningRunCreate, settings: Settings) -> None:
        check_total(grid_size(run_in.param_grid), settings)

    def words(self, *, n_iter: int | None, halving: dict[str, Any] | None) -> str:
        return "grid search"

    def listed_space(self, run: TuningRun, work: Prepared) -> SearchSpace:
        return SearchSpace(work.param_grid)


def grid_size(param_grid: dict[str, Any]) -> int:
    """How many candidates a grid makes, counted without looking at its values."""
    sizes = [len(v) if isinstance(v, list | tuple) else 1 for v in param_grid.values()]
    return math.prod(sizes)
