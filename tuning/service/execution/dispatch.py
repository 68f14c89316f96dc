"""Fair turns: which stored chunks go to the broker next.

A run's chunks are stored as they are planned, not sent. At most as many chunks as there are
live worker processes (over every host) are out (sent or running) at once, plus `HEADROOM`
while one user alone has work, and whenever one ends, the process that ended it sends the next
ones in this order:

1. a higher `priority` first (admins set it; 0 for every run by default);
2. the user with the fewest chunks out, so that users share the pool equally;
3. that user's run with the fewest chunks out, so that a user's runs take turns;
4. at a tie, the user (then the run) whose last chunk went longest ago: round robin.

So a run waits for the next free process, never behind another run's whole backlog. Every
host's workers dispatch the same way from the same rows, and the reconciler dispatches on each
pass too: a dispatcher that died between ending a chunk and sending the next is healed within
a pass. A run's first chunk (its probe) is sent at submit, so a new run starts at the next
free process; it counts as out like any other.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.domain import ACTIVE, as_utc, utcnow
from tuning.errors import Unavailable
from tuning.models import UNFINISHED_CHUNK, Chunk, TuningRun
from tuning.service.execution.queue import TaskQueue
from tuning.service.operations.workers import live_processes

log = logging.getLogger(__name__)

# Chunks out beyond the live processes while one user alone has work: one waits in the broker,
# so that a process that ends a chunk finds the next at once. With two users' work waiting,
# none: a chunk waiting in the broker would take the next free process before the other
# user's turn.
HEADROOM = 1
# Serialises dispatchers on PostgreSQL (an arbitrary constant key), so that two hosts ending a
# chunk at once do not both fill the same free slot.
_DISPATCH_LOCK = 0x7475_6E65


@dataclass
class RunTurn:
    """An active run with chunks waiting: what the fair order reads."""

    run_id: uuid.UUID
    owner_id: int
    priority: int
    created_at: datetime
    n_out: int
    n_waiting: int
    last_sent: datetime  # its latest chunk out; the epoch if none is out


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def dispatch(*, session: Session, queue: TaskQueue, settings: Settings) -> int:
    """Send waiting chunks to the broker while there is room, in fair order; how many went."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DISPATCH_LOCK})
    turns = run_turns(session=session)
    shared = len({turn.owner_id for turn in turns}) > 1
    room = capacity(session=session, settings=settings, shared=shared)
    room -= sum(turn.n_out for turn in turns)
    chosen: list[tuple[uuid.UUID, int, str]] = []
    while room > 0:
        turn = next_turn(turns)
        if turn is None:
            break
        taken = [index for run_id, index, _ in chosen if run_id == turn.run_id]
        chunk = _next_waiting(session, turn.run_id, after=taken)
        if chunk is None:
            turn.n_waiting = 0
            continue
        chosen.append((turn.run_id, chunk[0], chunk[1]))
        turn.last_sent = utcnow() + timedelta(microseconds=len(chosen))  # later than any out
        turn.n_out += 1
        turn.n_waiting -= 1
        room -= 1
    now = utcnow()
    marked = [
        (run_id, index, task_id)
        for run_id, index, task_id in chosen
        if session.execute(
            update(Chunk)
            .where(
                col(Chunk.run_id) == run_id,
                col(Chunk.index) == index,
                col(Chunk.sent_at).is_(None),
            )
            .values(sent_at=now)
        ).rowcount  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        == 1
    ]
    session.commit()  # marked before sent: a second dispatcher never sends them again
    return _send(session, queue, marked)


def capacity(*, session: Session, settings: Settings, shared: bool) -> int:
    """Chunks that may be out at once: the live worker processes, plus the headroom unless
    the pool is `shared` by more than one user's work."""
    processes = max(1, live_processes(session=session, settings=settings))
    return processes if shared else processes + HEADROOM


def run_turns(*, session: Session) -> list[RunTurn]:
    """Active runs with chunks out or waiting, with how many of each."""
    out = (col(Chunk.sent_at).is_not(None)) & col(Chunk.state).in_(UNFINISHED_CHUNK)
    waiting = (col(Chunk.sent_at).is_(None)) & (col(Chunk.state) == "queued")
    rows = session.execute(
        select(
            col(TuningRun.id),
            col(TuningRun.owner_id),
            col(TuningRun.priority),
            col(TuningRun.created_at),
            func.count().filter(out),
            func.count().filter(waiting),
            func.max(Chunk.sent_at),
        )
        .join(Chunk, col(Chunk.run_id) == TuningRun.id)
        .where(
            col(TuningRun.status).in_(list(ACTIVE)),
            col(TuningRun.sent_at).is_not(None),  # else its first chunk is the outbox's
            col(Chunk.state).in_(UNFINISHED_CHUNK),
        )
        .group_by(col(TuningRun.id))
    ).all()
    return [
        RunTurn(
            run_id=run_id,
            owner_id=owner_id,
            priority=priority,
            created_at=created_at,
            n_out=n_out,
            n_waiting=n_waiting,
            last_sent=as_utc(last_sent) or _NEVER,
        )
        for run_id, owner_id, priority, created_at, n_out, n_waiting, last_sent in rows
    ]


def next_turn(turns: list[RunTurn]) -> RunTurn | None:
    """The run whose chunk goes next (see the module's order), or None if none waits."""
    ready = [turn for turn in turns if turn.n_waiting > 0]
    if not ready:
        return None
    top = max(turn.priority for turn in ready)
    ready = [turn for turn in ready if turn.priority == top]
    out_by_user: dict[int, int] = {}
    last_by_user: dict[int, datetime] = {}
    for turn in turns:
        if turn.priority == top:
            out_by_user[turn.owner_id] = out_by_user.get(turn.owner_id, 0) + turn.n_out
            last_by_user[turn.owner_id] = max(
                last_by_user.get(turn.owner_id, _NEVER), turn.last_sent
            )
    return min(
        ready,
        key=lambda t: (
            out_by_user[t.owner_id],
            last_by_user[t.owner_id],
            t.n_out,
            t.last_sent,
            t.created_at,
        ),
    )


def _next_waiting(
    session: Session, run_id: uuid.UUID, *, after: list[int]
) -> tuple[int, str] | None:
    """The run's first waiting chunk (index, task id) not already chosen in this pass."""
    row = session.execute(
        select(col(Chunk.index), col(Chunk.task_id))
        .where(
            col(Chunk.run_id) == run_id,
            col(Chunk.state) == "queued",
            col(Chunk.sent_at).is_(None),
            col(Chunk.index).not_in(after),
        )
        .order_by(col(Chunk.index))
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _send(session: Session, queue: TaskQueue, chosen: list[tuple[uuid.UUID, int, str]]) -> int:
    """Hand the marked chunks to the broker; one it refuses is unmarked, for the next pass."""
    for position, (run_id, index, task_id) in enumerate(chosen):
        try:
            queue.enqueue_chunk(run_id, index, task_id=task_id)
        except Unavailable as exc:
            log.warning("chunks wait for the broker: %s", exc)
            for unsent_run, unsent_index, _ in chosen[position:]:
                session.execute(
                    update(Chunk)
                    .where(
                        col(Chunk.run_id) == unsent_run,
                        col(Chunk.index) == unsent_index,
                        col(Chunk.state) == "queued",
                    )
                    .values(sent_at=None)
                )
            session.commit()
            return position
    return len(chosen)
