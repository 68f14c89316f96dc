"""The errors the service layer raises; transports turn each into their own answer."""


class TuningError(Exception):
    """Base of every error a user can act on."""


class InvalidInput(TuningError, ValueError):
    """A submitted value is wrong: names the field and the reason, and nothing was stored."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Unauthenticated(TuningError):
    """No token, or one that belongs to nobody."""


class NotFound(TuningError, LookupError):
    """No run, dataset, user or model has that id or name."""


class Forbidden(TuningError, PermissionError):
    """The thing exists but belongs to somebody else."""


class Conflict(TuningError):
    """The change cannot be made in the thing's present state (a run still going, a dataset
    still used); the message says what to do first."""


class QuotaExceeded(TuningError):
    """Over one of a user's quotas (a MAX_... setting): the message names the limit, the use and
    what frees it, and nothing was stored. The API answers 429."""

    def __init__(self, message: str, *, setting: str, limit: int, used: int) -> None:
        super().__init__(message)
        self.setting = setting
        self.limit = limit
        self.used = used


class StorageQuotaExceeded(QuotaExceeded):
    """Over the bytes a user may store: the API answers 413, as for a body too large."""


class Unavailable(TuningError, ConnectionError):
    """The broker cannot take work right now."""


class StorageUnwritable(Unavailable):
    """The database, Redis or the data directory cannot be written: full, read-only, over its
    quota or out of memory. The message names which and why, and what to do; nothing was
    stored, and running work waits and resumes by itself. The API answers 503 with a
    Retry-After (`tuning.storage` tells these errors apart from the rest)."""

    RETRY_AFTER_S = 30

    def __init__(self, storage: str, cause: str, remedy: str) -> None:
        super().__init__(
            f"{storage} cannot be written: {cause}. {remedy}; running work resumes by itself."
        )
        self.storage = storage
        self.cause = cause


def shown(value: object, limit: int = 60) -> str:
    """A value a user sent, quoted for a message: at most `limit` characters of it, so that an
    error never echoes a large or hostile input back whole."""
    text = repr(value.item() if hasattr(value, "item") and callable(value.item) else value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
