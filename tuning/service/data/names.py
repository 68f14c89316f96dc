"""A dataset's name as it is stored and compared: NFKC-normalised, with no invisible or
direction-changing character, and never one that reads as a bundled dataset's name.

A list that shows `\u0456ris` (a Cyrillic i) or `iri\u200bs` beside `iris` invites a user to pick
the wrong one. A name is compared with the bundled ones by its skeleton: NFKC, case-folded,
accents stripped, and each letter that Unicode's confusables data says looks like a Latin one
replaced by it (the `confusable_homoglyphs` package ships that data).
"""

import unicodedata
from functools import cache

from tuning.errors import InvalidInput, shown

# The characters that change the direction text is shown in (Unicode's bidirectional
# controls): embeddings, overrides, isolates and marks. All are of category Cf as well.
BIDI_CONTROLS = frozenset(
    {"\u200e", "\u200f", "\u061c"}
    | set(map(chr, range(0x202A, 0x202F)))
    | set(map(chr, range(0x2066, 0x206A)))
)
# Characters shown as nothing, outside the categories refused below (Unicode's default
# ignorable letters and marks): fillers and variation selectors.
INVISIBLE_LETTERS = frozenset(
    {"\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u2800", "\u3164", "\uffa0"}
    | set(map(chr, range(0x180B, 0x1810)))
    | set(map(chr, range(0xFE00, 0xFE10)))
    | set(map(chr, range(0xE0100, 0xE01F0)))
)
# Unicode categories never in a name: controls, invisible formatting, surrogates, private use,
# unassigned, and line or paragraph separators.
REFUSED_CATEGORIES = {
    "Cc": "is a control character",
    "Cf": "is invisible",
    "Cs": "is a lone surrogate",
    "Co": "is a private-use character",
    "Cn": "is not an assigned character",
    "Zl": "is a line separator",
    "Zp": "is a paragraph separator",
}


def character_name(char: str) -> str:
    """A character as a reader can look it up: "U+200B ZERO WIDTH SPACE"."""
    name = unicodedata.name(char, "") or f"<{unicodedata.category(char)}>"
    return f"U+{ord(char):04X} {name}"


def refused_character(text: str) -> str | None:
    """Why `text` holds a character no name may hold (naming it and where), or None."""
    for position, char in enumerate(text, start=1):
        if char in BIDI_CONTROLS:
            why = "changes the direction the text is shown in"
        elif char in INVISIBLE_LETTERS:
            why = "is invisible"
        elif (category := unicodedata.category(char)) in REFUSED_CATEGORIES:
            why = REFUSED_CATEGORIES[category]
        else:
            continue
        return f"character {position}, {character_name(char)}, {why}: a name may not hold it"
    return None


def skeleton(text: str) -> str:
    """What `text` looks like, as Latin letters: NFKC and case-folded, accents stripped, and
    each character that looks like a Latin letter or digit replaced by it."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    stripped = "".join(
        char for char in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(char)
    )
    return "".join(_latin(char) for char in stripped).casefold()


def _latin(char: str) -> str:
    if char.isascii():
        return char
    return _homoglyphs().get(char, char)


@cache
def _homoglyphs() -> dict[str, str]:
    """Each non-ASCII character that looks like ASCII letters or digits, with the first of
    them in Unicode's confusables data (loaded once, on the first name checked)."""
    from confusable_homoglyphs.confusables import confusables_data

    found = {}
    for char, glyphs in confusables_data.items():
        if char.isascii():
            continue
        for glyph in glyphs:
            if glyph["c"].isascii() and glyph["c"].isalnum():
                found[char] = glyph["c"]
                break
    return found


def clean_dataset_name(name: str, *, bundled: list[str], limit: int) -> str:
    """`name` as it is stored: NFKC-normalised and stripped; InvalidInput("name") for an empty
    or long one, one holding an invisible, control or direction-changing character, or one
    that reads as a bundled dataset's name."""
    if reason := refused_character(name):
        raise InvalidInput("name", reason)
    name = unicodedata.normalize("NFKC", name).strip()
    if not name:
        raise InvalidInput("name", "a dataset needs a name")
    if len(name) > limit:
        raise InvalidInput("name", f"{len(name):,} characters; the limit is {limit}")
    looks_like = skeleton(name)
    for taken in bundled:
        if looks_like == skeleton(taken):
            same = name.casefold() == taken.casefold()
            how = "is" if name == taken else "is, ignoring case," if same else "looks like"
            raise InvalidInput(
                "name", f"{shown(name)} {how} {taken!r}, a bundled dataset's name; choose another"
            )
    return name
