"""SQLModel tables. The trial is the unit of work and of storage: one row per candidate."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from tuning.domain import RunStatus, TaskType, utcnow


def _timestamp(**kwargs: Any) -> Any:
    return Field(sa_type=DateTime(timezone=True), **kwargs)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=100)
    is_admin: bool = False
    token_hash: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = _timestamp(default_factory=utcnow)


class BrowserSession(SQLModel, table=True):
    """A dashboard sign-in that survives a reload: the browser holds a random secret in a
    cookie, the database only its SHA-256. Ends at `expires_at`, on sign-out or a new token."""

    __tablename__ = "browser_session"

    secret_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = _timestamp(default_factory=utcnow)
    expires_at: datetime = _timestamp()


class Dataset(SQLModel, table=True):
    """A bundled scikit-learn dataset (no owner, everyone's), or an uploaded CSV kept in the
    database for every worker, private to its owner. Names are unique per owner. The file
    itself is a DatasetFile."""

    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_dataset_owner_name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(index=True, max_length=200)
    kind: str = Field(max_length=20)  # "bundled" or "csv"
    task: TaskType
    target: str | None = Field(default=None, max_length=200)
    # The upload's bytes (0 for a bundled dataset): what MAX_UPLOAD_BYTES_PER_USER sums.
    size_bytes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    n_rows: int = 0
    n_columns: int = 0
    owner_id: int | None = Field(default=None, foreign_key="user.id")
    # Classification: [[label, rows], ...] in label order, read once from the target column so
    # that folds and scorers are checked at submit without loading the table. None until then.
    classes: list[list[Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Each column's kind, gaps, levels and default role, and the target's (tuning.ml.profile),
    # computed once at upload (for bundled and older datasets: at first use).
    profile: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _timestamp(default_factory=utcnow)
    archived_at: datetime | None = _timestamp(default=None)  # hidden from lists, restorable


class TuningRun(SQLModel, table=True):
    __tablename__ = "tuning_run"
    __table_args__ = (Index("ix_tuning_run_owner_created", "owner_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: int = Field(foreign_key="user.id")
    dataset_id: uuid.UUID = Field(foreign_key="dataset.id")
    estimator: str = Field(max_length=100)
    search: str = Field(default="grid", max_length=10)  # grid, random, halving or bayes
    param_grid: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    n_iter: int | None = None
    random_state: int | None = None
    cv: int = 5
    scoring: str = Field(max_length=100)

    status: RunStatus = Field(default=RunStatus.PENDING, index=True, max_length=10)
    task_id: str | None = Field(default=None, max_length=64)
    progress_current: int = 0
    progress_total: int = 0
    progress_message: str | None = Field(default=None, max_length=200)

    best_params: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    best_score: float | None = None
    best_trial_index: int | None = None
    total_combinations: int = 0
    tuning_time: float | None = None
    error_type: str | None = Field(default=None, max_length=100)
    error_message: str | None = None

    created_at: datetime = _timestamp(default_factory=utcnow)
    started_at: datetime | None = _timestamp(default=None)
    finished_at: datetime | None = _timestamp(default=None)
    # The outbox: None until the broker took the run's first task; the reconciler sends it then.
    sent_at: datetime | None = _timestamp(default=None)
    # Candidates per task, measured on the first ones; None until the run's work is planned.
    chunk_size: int | None = None
    # The run this one refines (Results' "Refine and relaunch"); its children link back here.
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="tuning_run.id", index=True)
    # Successive halving: its options and schedule, fixed at submit (see tuning.ml.halving);
    # `rung` is the rung being evaluated.
    halving: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    rung: int = 0
    # Early stopping: after this many candidates (in order of completion) without a better
    # score, or this many seconds; `stop_reason` says why a run ended before its last candidate.
    stop_after_no_improvement: int | None = None
    time_budget_s: float | None = None
    stop_reason: str | None = Field(default=None, max_length=200)
    # Whether each fold's training rows are scored too (the overfitting view), as in sklearn.
    return_train_score: bool = True
    # Column roles, resolved at submit: {"ignore": [...], "group": name | None, "time": name |
    # None}; None for runs stored before roles (every column a feature, read by its dtype).
    column_roles: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The positive class of a binary target, for f1, precision, recall, average precision.
    pos_label: Any | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The test set kept out of tuning: its share, and its rows (positions among the dataset's
    # labelled rows), drawn once at submit from the run's seed so that every host and every
    # later training uses the same ones. None or [] when the run keeps no test set.
    test_size: float = Field(default=0.0, sa_column_kwargs={"server_default": "0"})
    held_out: list[int] | None = Field(  # SQL NULL until drawn: the one draw is a guarded update
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    name: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    archived_at: datetime | None = _timestamp(default=None)  # hidden from lists, restorable
    # Fair turns (tuning.service.execution.dispatch): a higher priority's chunks go first; set
    # by admins, 0 for every run otherwise.
    priority: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    @property
    def first_rung_size(self) -> int:
        """The trials planned at launch: the first rung's for halving, else every candidate."""
        if self.halving is not None:
            return int(self.halving["n_candidates"][0])
        return self.total_combinations


class Chunk(SQLModel, table=True):
    """A run's candidates `start` to `stop` (exclusive): the unit of work one task evaluates.

    Chunk 0 is created with the run and probes how long a candidate takes; its task then plans
    the others. A chunk is `queued` until a worker claims it (`running`, with that worker's
    name), then `done`; the reconciler queues again a running chunk whose worker went silent.
    """

    __tablename__ = "work_chunk"
    __table_args__ = (
        UniqueConstraint("run_id", "index", name="uq_work_chunk_run_index"),
        Index("ix_work_chunk_state", "state"),  # the few not done, for dispatch and the queue
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="tuning_run.id")
    index: int
    start: int
    stop: int
    state: str = Field(default="queued", max_length=10)  # queued, running, done
    task_id: str = Field(max_length=64)
    worker: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = _timestamp(default=None)
    started_at: datetime | None = _timestamp(default=None)
    finished_at: datetime | None = _timestamp(default=None)
    attempts: int = 0


# A chunk's states before `done`: scans over every run's chunks ask for these by name, so that
# the index on state finds the few of them among the many done.
UNFINISHED_CHUNK = ("queued", "running")


class WorkerHeartbeat(SQLModel, table=True):
    """A live worker says so every few seconds; one that stops saying so has lost its work."""

    __tablename__ = "worker_heartbeat"

    hostname: str = Field(primary_key=True, max_length=200)
    pid: int
    concurrency: int
    started_at: datetime = _timestamp(default_factory=utcnow)
    last_seen: datetime = _timestamp(default_factory=utcnow)


class Lease(SQLModel, table=True):
    """A named job that one process at a time may do (the reconciler), until `expires_at`."""

    name: str = Field(primary_key=True, max_length=50)
    holder: str = Field(max_length=200)
    expires_at: datetime = _timestamp()


class Trial(SQLModel, table=True):
    """One candidate's cross-validated scores, written the moment it finishes."""

    __table_args__ = (UniqueConstraint("run_id", "index", name="uq_trial_run_index"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="tuning_run.id")  # indexed by the unique key
    index: int
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    mean_test_score: float | None = None  # None where scikit-learn has nan: a failed candidate
    std_test_score: float | None = None
    split_scores: list[float | None] = Field(sa_column=Column(JSON, nullable=False))
    split_train_scores: list[float | None] | None = Field(default=None, sa_column=Column(JSON))
    mean_fit_time: float = 0.0
    mean_score_time: float = 0.0
    error: str | None = None
    worker: str | None = Field(default=None, max_length=200)
    started_at: datetime | None = _timestamp(default=None)
    finished_at: datetime = _timestamp(default_factory=utcnow)
    # Successive halving: the rung the candidate was evaluated in, and on how many samples.
    rung: int | None = None
    n_resources: int | None = None


class Proposal(SQLModel, table=True):
    """A Bayesian search's candidate, stored when proposed: the runs' other workers see it in
    flight (TPE's constant liar), and a redelivered task evaluates it rather than asking again.
    `chunk` is the task (a chunk's index) that proposed it."""

    __table_args__ = (UniqueConstraint("run_id", "index", name="uq_proposal_run_index"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="tuning_run.id")
    index: int
    chunk: int
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _timestamp(default_factory=utcnow)


class TrainingRun(SQLModel, table=True):
    """A final model fitted with chosen (often a tuning run's best) parameters."""

    __tablename__ = "training_run"
    __table_args__ = (Index("ix_training_run_owner_created", "owner_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: int = Field(foreign_key="user.id")
    tuning_run_id: uuid.UUID | None = Field(default=None, foreign_key="tuning_run.id")
    dataset_id: uuid.UUID = Field(foreign_key="dataset.id")
    estimator: str = Field(max_length=100)
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    scoring: str = Field(max_length=100)
    random_state: int | None = None

    status: RunStatus = Field(default=RunStatus.PENDING, max_length=10)
    task_id: str | None = Field(default=None, max_length=64)
    model_id: uuid.UUID | None = None
    metrics: dict[str, float] | None = Field(default=None, sa_column=Column(JSON))
    # Which trial of the tuning run was trained (None: its best), and the trained model's
    # evaluation on the run's test set (metrics, baseline, curves, importance).
    trial_index: int | None = None
    evaluation: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    training_time: float | None = None
    error_type: str | None = Field(default=None, max_length=100)
    error_message: str | None = None

    created_at: datetime = _timestamp(default_factory=utcnow)
    started_at: datetime | None = _timestamp(default=None)
    finished_at: datetime | None = _timestamp(default=None)
    sent_at: datetime | None = _timestamp(default=None)  # the outbox, as for tuning runs


class Model(SQLModel, table=True):
    """A fitted pipeline, in the database so any host can serve it; its skops file is a
    ModelFile."""

    __tablename__ = "trained_model"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: int = Field(foreign_key="user.id", index=True)
    training_run_id: uuid.UUID = Field(foreign_key="training_run.id", unique=True)
    estimator: str = Field(max_length=100)
    size_bytes: int = 0
    created_at: datetime = _timestamp(default_factory=utcnow)
    # A binary classifier's decision threshold on the positive class's probability, applied by
    # its predictions and stored in its file; None: the estimator's own predict.
    threshold: float | None = None
    archived_at: datetime | None = _timestamp(default=None)


# A stored file lives in a table of its own, not in the row that lists read: SQLite keeps a
# large value in its row as a chain of overflow pages, and reading any column stored after it
# walks the chain (a list of 20 uploads of 15 MB took 0.5 s). Read and written by
# tuning.service.data.files.


class DatasetFile(SQLModel, table=True):
    """An uploaded dataset's CSV file, as uploaded (bundled datasets have none)."""

    __tablename__ = "dataset_file"

    dataset_id: uuid.UUID = Field(foreign_key="dataset.id", primary_key=True)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ModelFile(SQLModel, table=True):
    """A trained model's skops file."""

    __tablename__ = "model_file"

    model_id: uuid.UUID = Field(foreign_key="trained_model.id", primary_key=True)
    file: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class RunTag(SQLModel, table=True):
    """A tag of a tuning run, one row each, so that Runs filters by tag with an index on any
    database; the run's `tags` column keeps them in the order given, for reading."""

    __tablename__ = "run_tag"
    __table_args__ = (Index("ix_run_tag_tag_run", "tag", "run_id"),)

    run_id: uuid.UUID = Field(foreign_key="tuning_run.id", primary_key=True)
    tag: str = Field(primary_key=True, max_length=50)


class RunNote(SQLModel, table=True):
    """A note on a tuning run: what someone concluded, for whoever opens it later."""

    __tablename__ = "run_note"

    id: int | None = Field(default=None, primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="tuning_run.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    text: str = Field(max_length=2000)
    created_at: datetime = _timestamp(default_factory=utcnow)


_WHERE_EVERYONE: dict[str, Any] = {
    "sqlite_where": text("user_id IS NULL"),
    "postgresql_where": text("user_id IS NULL"),
}


class RunShare(SQLModel, table=True):
    """A tuning run shared by its owner (or an admin) with one user, or with every signed-in
    user (`user_id` None). `level`: "read" (its results, trials, notes, status) or
    "contribute" (read, and add notes and train models from it). One share per user a run."""

    __tablename__ = "run_share"
    __table_args__ = (
        UniqueConstraint("run_id", "user_id", name="uq_run_share_run_user"),
        Index("ix_run_share_user_run", "user_id", "run_id"),
        # NULLs are distinct to a unique constraint: "everyone" gets its own unique index.
        Index("uq_run_share_everyone", "run_id", unique=True, **_WHERE_EVERYONE),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="tuning_run.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    level: str = Field(default="read", max_length=10)
    created_at: datetime = _timestamp(default_factory=utcnow)
    created_by: int = Field(foreign_key="user.id")


class DatasetShare(SQLModel, table=True):
    """An upload shared by its owner (or an admin) with one user, or with every signed-in user
    (`user_id` None). `level`: "use" (tune and train on it, read its profile) or "download"
    (use, and download its CSV file)."""

    __tablename__ = "dataset_share"
    __table_args__ = (
        UniqueConstraint("dataset_id", "user_id", name="uq_dataset_share_dataset_user"),
        Index("ix_dataset_share_user_dataset", "user_id", "dataset_id"),
        Index("uq_dataset_share_everyone", "dataset_id", unique=True, **_WHERE_EVERYONE),
    )

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: uuid.UUID = Field(foreign_key="dataset.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    level: str = Field(default="use", max_length=10)
    created_at: datetime = _timestamp(default_factory=utcnow)
    created_by: int = Field(foreign_key="user.id")


class IdempotencyKey(SQLModel, table=True):
    """The first answer to a request sent with an `Idempotency-Key`: a retry with the same key
    and request is given it again and stores nothing. One key per user; stored in the same
    transaction as what the request created, so that the two exist together or not at all.
    Kept a day (tuning.service.commands.idempotency)."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_key_user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    key: str = Field(max_length=255)
    route: str = Field(max_length=300)  # "POST /api/v1/tuning/tune"
    body_hash: str = Field(max_length=64)  # SHA-256 of the request, in canonical form
    status_code: int
    media_type: str = Field(max_length=100)
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _timestamp(default_factory=utcnow, index=True)
