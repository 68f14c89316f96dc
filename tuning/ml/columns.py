"""A run's column roles: which columns are features, which are left out, which one groups rows
and which one orders them in time; checked against the dataset's profile, resolved at submit.

Pure: roles are JSON ({"ignore": [...], "group": name | None, "time": name | None}) stored
with the run, and `feature_columns` turns a profile and roles into the columns the
preprocessing takes, by kind.
"""

from dataclasses import dataclass, field
from typing import Any

from tuning.errors import InvalidInput, shown


@dataclass(frozen=True)
class FeatureColumns:
    """The feature columns by how they are encoded; `dates` maps each to its text format."""

    numeric: list[str] = field(default_factory=list)
    boolean: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    dates: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [*self.numeric, *self.boolean, *self.categorical, *self.dates]


def default_roles(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile's defaults: ID-like, constant and empty columns left out, no group, no time."""
    ignored = [c["name"] for c in profile["columns"] if c["role"] == "ignored"]
    return {"ignore": ignored, "group": None, "time": None}


def resolve_roles(profile: dict[str, Any], requested: dict[str, Any] | None) -> dict[str, Any]:
    """The roles a run uses: `requested` (its `ignore` list, when given, replaces the defaults)
    checked against the profile; InvalidInput naming `columns.<role>` for any problem."""
    roles = default_roles(profile)
    if requested:
        if requested.get("ignore") is not None:
            roles["ignore"] = list(dict.fromkeys(requested["ignore"]))
        roles["group"], roles["time"] = requested.get("group"), requested.get("time")
    by_name = {c["name"]: c for c in profile["columns"]}
    for name in roles["ignore"]:
        _known(by_name, name, "columns.ignore")
    for role in ("group", "time"):
        if roles[role] is not None:
            _known(by_name, roles[role], f"columns.{role}")
    # Grouping and ordering columns are never features: no need to leave them out as well.
    roles["ignore"] = [n for n in roles["ignore"] if n not in (roles["group"], roles["time"])]
    if roles["group"] is not None and roles["group"] == roles["time"]:
        raise InvalidInput("columns.time", "one column cannot both group and order the rows")
    if roles["time"] is not None:
        _check_time(by_name[roles["time"]])
    if not _features(profile, roles):
        raise InvalidInput("columns.ignore", "no feature column is left: keep at least one")
    _check_usable(profile, roles)
    return roles


def _check_usable(profile: dict[str, Any], roles: dict[str, Any]) -> None:
    """Refuse a run whose target or features no estimator can take: an empty column kept as a
    feature, or a column the profile names unusable (infinity in a file stored before uploads
    holding it were refused)."""
    unusable = {u["column"]: u["message"] for u in profile.get("unusable", [])}
    target = profile["target"]["name"]
    if target in unusable:
        raise InvalidInput(
            "dataset", f"the target {shown(target)} {unusable[target]}: upload a corrected file"
        )
    for column in _features(profile, roles):
        name = column["name"]
        if column["missing"] >= 1:
            raise InvalidInput(
                "columns.ignore",
                f"{shown(name)} is empty (every value is missing), so it cannot be a feature; "
                "leave it out",
            )
        if name in unusable:
            raise InvalidInput(
                "columns.ignore",
                f"{shown(name)} {unusable[name]}: no estimator can fit it; leave it out or "
                "upload a corrected file",
            )


def _known(by_name: dict[str, Any], name: str, where: str) -> None:
    if name not in by_name:
        some = ", ".join(shown(n, 40) for n in list(by_name)[:20])
        raise InvalidInput(where, f"no feature column named {shown(name)}; columns are: {some}")


def _check_time(column: dict[str, Any]) -> None:
    if column["kind"] not in ("datetime", "numeric"):
        raise InvalidInput(
            "columns.time",
            f"{shown(column['name'])} is {column['kind']}, not dates or numbers: rows cannot "
            "be put in time order by it",
        )
    if column["missing"] > 0:
        raise InvalidInput(
            "columns.time",
            f"{shown(column['name'])} has missing values ({column['missing']:.1%} of rows): "
            "every row needs a time to be put in order",
        )


def _features(profile: dict[str, Any], roles: dict[str, Any]) -> list[dict[str, Any]]:
    left_out = {*roles["ignore"], roles["group"], roles["time"]}
    return [c for c in profile["columns"] if c["name"] not in left_out]


def feature_columns(profile: dict[str, Any], roles: dict[str, Any]) -> FeatureColumns:
    """The columns the preprocessing takes, by kind; a text column kept as a feature (the user
    overrode its default) is encoded as categories."""
    features = FeatureColumns()
    for column in _features(profile, roles):
        name, kind = column["name"], column["kind"]
        if kind == "numeric":
            features.numeric.append(name)
        elif kind == "boolean":
            features.boolean.append(name)
        elif kind == "datetime":
            features.dates[name] = column["date_format"]
        else:
            features.categorical.append(name)
    return features


def n_groups(profile: dict[str, Any], roles: dict[str, Any]) -> int | None:
    """How many groups the group column makes (a missing value is a group of its own)."""
    if roles.get("group") is None:
        return None
    column = next(c for c in profile["columns"] if c["name"] == roles["group"])
    return int(column["distinct"]) + (1 if column["missing"] > 0 else 0)
