"""Text that people typed, made to show as typed: names, messages and values from users.

Streamlit renders markdown in titles, captions, messages, toasts, help, the labels of widgets,
metrics, expanders and tabs, radio options and st.table cells (not in selectbox or multiselect
options, nor st.dataframe cells); Plotly renders a little HTML (links, bold, line breaks) in
chart titles, legends and hovers. A dataset, user or column name, or an error that quotes one,
goes through `plain` on its way into markdown and `chart_text` into a figure. No Streamlit here.
"""

import html
import re

# Signs that start markup anywhere in a line (GFM, LaTeX, Streamlit's `:red[...]` directives,
# entities like `&amp;`): CommonMark shows each literally after a backslash.
_ANYWHERE = re.compile(r"[\\`*_{}\[\]()<>~|$&:]")
# Signs that start markup only at the start of a line: headings, lists, `1.` lists, setext
# underlines. `plain` takes new lines out, so its text starts a line at most at its start.
_LINE_START = re.compile(r"^(?:[#+\-=]|\d{1,9}\.)")
# Some markup is found in the text after the backslashes are gone: GFM's links for `https://`,
# `www.` and e-mail addresses, emoji shortcodes, Streamlit's `:material_x:` and `:streamlit:`,
# and its arrows and dashes for `->`, `--`, `>=`. An invisible word joiner breaks each of them:
# after a `:` or `@` with no space after it, inside `www.` and between the signs of an arrow.
_JOINS = re.compile(r"(?<=[:@])(?=\S)|(?<=www)(?=\.)|(?<=[-<>~])(?=[->=])", re.IGNORECASE)
WORD_JOINER = "\u2060"
ELLIPSIS = "…"


def plain(text: object, limit: int | None = None) -> str:
    """`text` as Streamlit markdown that shows it literally, on one line, cut to `limit` chars."""
    shown = " ".join(str(text).split())  # a new line must not start a heading or a list
    if limit is not None and len(shown) > limit:
        shown = shown[: max(limit - 1, 0)] + ELLIPSIS
    shown = _ANYWHERE.sub(r"\\\g<0>", _JOINS.sub(WORD_JOINER, shown))
    return _LINE_START.sub(lambda start: f"{start[0][:-1]}\\{start[0][-1]}", shown)


def chart_text(text: object) -> str:
    """`text` for a Plotly title, legend, axis or hover: its HTML-like tags shown, not followed.

    Quotes stay: they mean nothing outside a tag, and Plotly would show `&quot;` as it is.
    """
    return html.escape(str(text), quote=False)
