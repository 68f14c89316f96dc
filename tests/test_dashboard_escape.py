"""What people typed shows as typed on every page: no markup from names, messages or the URL.

A dataset, its owner's name, a column name and error messages carry markdown, a link, an image
the browser would fetch, Streamlit's colour directive, LaTeX, HTML and a heading on a new line.
Every element that renders markdown must hold them only as `plain` makes them, every chart only
as `chart_text` makes them, and the escaped text must be there where the name is shown.
"""

import json
import re
import uuid
from dataclasses import dataclass

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest
from test_dashboard import dashboard, open_app, texts  # noqa: F401 (dashboard: a fixture)

from dashboard_ui.support import (
    COMPARE_PAGE,
    MODELS_PAGE,
    NEW_RUN_PAGE,
    RESULTS_PAGE,
    RUN_PAGE,
)
from dashboard_ui.text import WORD_JOINER, chart_text, plain
from tuning.config import Settings
from tuning.domain import RunStatus
from tuning.models import TrainingRun, TuningRun, User
from tuning.service import create_user, upload_dataset

from factories import make_run, make_trial

HOSTILE = (
    "**bold** [phish](https://example.com/login) ![px](http://127.0.0.1:8000/healthz) "
    ':red[alarm] $x$ <a href="https://example.com/chart">chart</a>\n# heading'
)
# Pieces of HOSTILE (and of the owner's name) that no markdown element may hold unescaped.
MARKUP = [
    "**bold**",
    "[phish](",
    "![px](",
    ":red[",
    "$x$",
    "<a href",
    "\n#",
    "https://example.com",
    "**owner**",
    "[me](",
]
UNESCAPED = [re.compile(r"(?<!\\)" + re.escape(piece)) for piece in MARKUP]
REFLECTED = "[Session expired, sign in again](https://example.com)"
# Elements whose text Streamlit does not render as markdown.
NOT_MARKDOWN = {"json", "code"}


@dataclass
class Hostile:
    """A user with a hostile name, their dataset and runs, and an admin's token."""

    owner: User
    owner_token: str
    admin_token: str
    dataset: str
    finished: TuningRun
    also_finished: TuningRun
    failed: TuningRun
    error: str


@pytest.fixture
def hostile(session: Session, dashboard) -> Hostile:  # noqa: F811 (dashboard: a fixture)
    tag = uuid.uuid4().hex[:8]
    owner, owner_token = create_user(
        session=session, name=f"**owner** [me](https://example.com/me) :red[x]\n# {tag}"
    )
    _, admin_token = create_user(session=session, name=f"admin-{tag}", is_admin=True)
    rows = "\n".join(f"{i},{i % 7},{'yes' if i % 2 else 'no'}" for i in range(40))
    dataset = upload_dataset(
        session=session,
        owner=owner,
        name=f"{HOSTILE.replace(chr(10), ' ')} {tag}",  # a new line is refused in a name
        content=f"size,weight,label\n{rows}".encode(),
        target="label",
        settings=Settings(_env_file=None),
    ).name
    error = f"could not convert string to float: '{HOSTILE}'"
    failed = make_run(
        session,
        owner,
        dataset=dataset,
        status=RunStatus.FAILURE,
        n_trials=0,
        error_type="ValueError",
        error_message=f"all 1 candidates failed; first: {error}",
    )
    trial = make_trial(
        failed.id, 0, {"n_estimators": 10, "max_depth": None}, 0.0, 3, failed.created_at
    )
    trial.mean_test_score, trial.error = None, f"ValueError: {error}"
    session.add(trial)
    finished = make_run(session, owner, dataset=dataset)
    also_finished = make_run(session, owner, dataset=dataset, param_grid={"max_depth": [3, 6]})
    session.add(
        TrainingRun(
            owner_id=owner.id,
            tuning_run_id=finished.id,
            dataset_id=finished.dataset_id,
            estimator=finished.estimator,
            params={"n_estimators": 100},
            scoring="accuracy",
            status=RunStatus.FAILURE,
            error_type="ValueError",
            error_message=error,
        )
    )
    session.commit()
    return Hostile(owner, owner_token, admin_token, dataset, finished, also_finished, failed, error)


def markdown_sources(app: AppTest) -> list[str]:
    """Every text of the page that Streamlit renders as markdown: the bodies of markdown, titles,
    captions, alerts and toasts; the labels and help of widgets, metrics, expanders and tabs;
    the text of progress bars."""
    sources = []
    for root in (app.main, app.sidebar):
        for node in root:
            if node.type in NOT_MARKDOWN:
                continue
            label = getattr(node, "label", None)  # expanders and tabs: on the block
            sources += [label] if isinstance(label, str) else []
            for field in ("body", "label", "help", "text"):
                value = getattr(node.proto, field, None)
                sources += [value] if isinstance(value, str) and value else []
    return sources


def assert_shown_as_typed(app: AppTest, *shown: str) -> None:
    """No markdown of the page holds MARKUP; each of `shown` (escaped text) is in one of them."""
    assert not app.exception, app.exception
    sources = markdown_sources(app)
    for source in sources:
        assert not [piece.pattern for piece in UNESCAPED if piece.search(source)], source
    for text in shown:
        assert any(text in source for source in sources), (text, sources)


def chart_names(app: AppTest) -> list[str]:
    """The trace names of every Plotly chart on the page."""
    figures = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    return [trace.get("name", "") for figure in figures for trace in figure["data"]]


# --- Pages ----------------------------------------------------------------------------------


@pytest.mark.database
def test_an_admin_sees_another_users_names_and_errors_as_typed_on_every_page(hostile):
    token, dataset, owner = hostile.admin_token, plain(hostile.dataset), plain(hostile.owner.name)

    app = open_app(token)  # Runs: the name is in the table and the filter, neither markdown
    assert_shown_as_typed(app)
    assert hostile.dataset in set(app.dataframe[0].value["dataset"])
    assert hostile.owner.name in set(app.dataframe[0].value["owner"])

    for page in (RUN_PAGE, RESULTS_PAGE):
        app = open_app(token, page, run=str(hostile.finished.id))
        assert_shown_as_typed(app, dataset, owner)
        assert any(dataset in title for title in texts(app, "title")), page

        app = open_app(token, page, run=str(hostile.failed.id))
        assert_shown_as_typed(app, dataset, owner, plain(hostile.error))
        assert any(plain(hostile.error) in error for error in texts(app, "error")), page

    runs = f"{hostile.finished.id},{hostile.also_finished.id}"
    app = open_app(token, COMPARE_PAGE, runs=runs)
    assert_shown_as_typed(app)
    names = chart_names(app)
    assert any(chart_text(hostile.dataset) in name for name in names), names
    assert not [name for name in names if "<a href" in name or "<b>" in name]

    app = open_app(token, MODELS_PAGE)
    assert_shown_as_typed(app, plain(hostile.error))


@pytest.mark.database
def test_the_owner_sees_their_name_and_dataset_as_typed(hostile):
    app = open_app(hostile.owner_token, RUN_PAGE, run=str(hostile.finished.id))
    assert_shown_as_typed(app, plain(hostile.dataset))
    assert any(plain(hostile.owner.name) in c for c in texts(app.sidebar, "caption"))

    app = open_app(hostile.owner_token, NEW_RUN_PAGE)
    app.selectbox(key="new.dataset").set_value(hostile.dataset).run()
    assert_shown_as_typed(app)
    duration = next(m for m in app.metric if m.label == "Estimated duration")
    assert plain(hostile.dataset) in duration.proto.help  # "From 2 finished run(s) of ... on"


@pytest.mark.database
def test_an_uploads_column_names_and_errors_show_as_typed(hostile):
    column = "**bold** [c](https://example.com/c) :red[y]"
    rows = "\n".join(f"{i},1,{i % 2}" for i in range(30))
    content = f'size,"{column} 1","{column} 2"\n{rows}'.encode()
    app = open_app(hostile.owner_token, NEW_RUN_PAGE)
    app.segmented_control(key="new.source").set_value("Upload a CSV").run()
    app.file_uploader(key="upload.file").upload("typed.csv", content, "text/csv").run()
    assert_shown_as_typed(app, plain(f"{column} 2"))  # "the target ... makes this a ... task"

    app.selectbox(key="new.target").set_value(f"{column} 1").run()  # a single value: an error
    assert_shown_as_typed(app, plain(f"{column} 1"))
    assert app.error

    app.selectbox(key="new.target").set_value(f"{column} 2").run()
    app.text_input(key="new.name").set_value(hostile.dataset).run()
    next(b for b in app.button if b.label == "Save dataset and use it").click().run()
    # "you already have a dataset named '...'", the name cut short
    assert_shown_as_typed(app, plain(hostile.dataset[:20]))
    assert any("already have" in error for error in texts(app, "error"))


@pytest.mark.database
@pytest.mark.parametrize("page", [RUN_PAGE, RESULTS_PAGE])
def test_a_link_in_the_address_is_not_rendered_in_the_error(hostile, page):
    app = open_app(hostile.owner_token, page, run=REFLECTED)

    assert_shown_as_typed(app, plain(REFLECTED))
    assert not [error for error in texts(app, "error") if "](" in error]


# --- The helper -----------------------------------------------------------------------------

# Line-start constructs, inline ones, entities and the patterns Streamlit finds after parsing.
SAMPLES = [
    HOSTILE,
    "# heading",
    "- item",
    "+ item",
    "1. first",
    "2) second",
    "> quote",
    "===",
    "---",
    "***",
    "    indented",
    "| a | b |",
    "<div>x</div> <https://example.com>",
    "```fence``` ~~~",
    "~~strike~~ _it_ *it* `code` a_b_c x*y*z",
    "[ ] task [^1] [ref]: https://example.com",
    "&amp; &#35; &copy;",
    "back\\slash \\* and a trailing \\",
    "a -> b <- c <-> d -- e >= f <= g ~= h",
    ":smile: :material/rocket: :material_rocket: :streamlit: :red[r] :blue-badge[b] :help[h]",
    "https://example.com www.example.com me@example.com",
]
# What Streamlit 1.67's markdown (StreamlitMarkdown) finds in text after the escapes are gone:
# GFM's autolink literals, emoji shortcodes, material icons, its logo and its arrows.
FOUND_IN_TEXT = [
    re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE),
    re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"),
    re.compile(r":[+\w-][\w+-]*:"),
    re.compile(r":material[/_](\w+):"),
    re.compile(r"(^|\s)(<->|->|<-|--|>=|<=|~=)(\s|$)"),
]
ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def test_plain_renders_back_to_the_text_in_commonmark():
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py comes with rich")
    escapeHtml = pytest.importorskip("markdown_it.common.utils").escapeHtml
    renderer = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    for text in SAMPLES:
        shown = renderer.render(plain(text)).replace(WORD_JOINER, "")
        assert shown == f"<p>{escapeHtml(' '.join(text.split()))}</p>\n", text


def test_plain_leaves_nothing_for_streamlit_to_find_in_the_text():
    for text in SAMPLES:
        in_text = ESCAPE.sub(r"\1", plain(text))  # the text node, once the escapes are read
        assert not [p.pattern for p in FOUND_IN_TEXT if p.search(in_text)], text
        assert in_text.replace(WORD_JOINER, "") == " ".join(text.split())


def test_plain_leaves_ordinary_text_as_it_is():
    for text in ["RandomForestClassifier 0.93", "analyst-3f2a", "it's 5% better, isn't it?"]:
        assert plain(text) == text


def test_plain_puts_text_on_one_line_and_cuts_it():
    assert plain("first\nsecond\r\n\tthird ") == "first second third"
    assert plain("a" * 10, limit=4) == "aaa…"
    assert plain("abcd", limit=4) == "abcd"


def test_chart_text_shows_plotlys_tags_as_text():
    assert chart_text('<a href="https://example.com">x</a> <b>&</b>') == (
        '&lt;a href="https://example.com"&gt;x&lt;/a&gt; &lt;b&gt;&amp;&lt;/b&gt;'
    )
