"""How a command ends on an error: one line of words on stderr and an exit code, never a raw
traceback. An unexpected error's traceback goes to a log file the line names (or to the
terminal with `--debug`)."""

import sys
import tempfile
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tuning.errors import TuningError, Unavailable
from tuning.storage import storage_error

EXIT_INVALID = 2  # a bad input, or a state the command cannot change: the message says what
EXIT_UNAVAILABLE = 3  # storage or broker cannot take it now: try again once fixed
EXIT_UNEXPECTED = 4  # a bug: the traceback is logged
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it

LOG_NAME = "cli-errors.log"


def exit_on_error(exc: BaseException, *, data_dir: Path, debug: bool) -> int:
    """Say `exc` in one line on stderr and return the command's exit code."""
    if isinstance(exc, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    known = exc if isinstance(exc, TuningError) else storage_error(exc)
    if known is not None:
        print(f"error: {known}", file=sys.stderr)
        return EXIT_UNAVAILABLE if isinstance(known, Unavailable) else EXIT_INVALID
    error_id = uuid.uuid4().hex[:12]
    said = str(exc).splitlines()[0][:300] if str(exc) else ""
    line = f"error: unexpected {type(exc).__name__}: {said} (error id {error_id})"
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
        print(line, file=sys.stderr)
        return EXIT_UNEXPECTED
    where = _log_traceback(exc, error_id, data_dir)
    kept = f"its traceback is in {where}" if where else "its traceback could not be written"
    print(f"{line}; {kept}; `python -m tuning --debug …` shows it here", file=sys.stderr)
    return EXIT_UNEXPECTED


def _log_traceback(exc: BaseException, error_id: str, data_dir: Path) -> Path | None:
    """Append the traceback to the data directory's log, else the temporary directory's (the
    data directory may be the full disk); the file written, or None."""
    entry = (
        f"--- {datetime.now(UTC).isoformat()} error id {error_id}: {' '.join(sys.argv)}\n"
        + "".join(traceback.format_exception(exc))
    )
    for folder in (data_dir / "logs", Path(tempfile.gettempdir())):
        path = folder / LOG_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write(entry)
            return path
        except OSError:
            continue
    return None
