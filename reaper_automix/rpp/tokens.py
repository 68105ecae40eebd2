"""Tokenising and quoting of RPP lines, following REAPER's own rules.

Reading: tokens are separated by spaces or tabs; a token that *starts* with ``"``, ``'`` or a
backtick runs to the next occurrence of the same character (no escapes). A quote character
elsewhere in a token is literal.

Writing: REAPER quotes a string only if it is empty, contains whitespace or starts with a quote
character; it uses ``"``, else ``'`` if the text contains ``"``, else a backtick.
"""

from __future__ import annotations

QUOTES = "\"'`"
_SPACE = " \t"


def split_tokens(text: str) -> list[str]:
    """Split the content of one RPP line (no line ending) into unquoted tokens."""
    return [value for value, _, _ in _scan(text)]


def replace_tokens(text: str, replacements: dict[int, str]) -> str:
    """Replace tokens (by index) with new raw text, keeping every other character as it was."""
    spans = _scan(text)
    out, cursor = [], 0
    for index, (_, start, end) in enumerate(spans):
        if index in replacements:
            out.append(text[cursor:start])
            out.append(replacements[index])
            cursor = end
    missing = sorted(i for i in replacements if i >= len(spans))
    out.append(text[cursor:])
    for index in missing:  # appended fields: REAPER separates them with one space
        if index != len(spans) + missing.index(index):
            raise IndexError(f"cannot set field {index} of a line with {len(spans)} tokens")
        out.append(" " + replacements[index])
    return "".join(out)


def _scan(text: str) -> list[tuple[str, int, int]]:
    """(unquoted value, start, end) of each token."""
    tokens: list[tuple[str, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            break
        start = i
        if text[i] in QUOTES:
            quote = text[i]
            end = text.find(quote, i + 1)
            if end < 0:  # unterminated quote: REAPER takes the rest of the line
                tokens.append((text[i + 1 :], start, n))
                break
            tokens.append((text[i + 1 : end], start, end + 1))
            i = end + 1
        else:
            while i < n and text[i] not in _SPACE:
                i += 1
            tokens.append((text[start:i], start, i))
    return tokens


def quote(value: str) -> str:
    """Format one string token the way REAPER writes it."""
    needs = value == "" or any(c in _SPACE for c in value) or value[0] in QUOTES
    if not needs:
        return value
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    if "`" not in value:
        return f"`{value}`"
    # All three quote characters: REAPER writes a lossy backtick form (see rpp.document).
    return "`" + value.replace("`", "'") + "`"


def format_number(value: float) -> str:
    """Format a float as REAPER writes them: up to 14 significant digits, no trailing zeros."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.14g}"
    if "e" in text:
        return f"{value:.14f}".rstrip("0").rstrip(".")
    return text
