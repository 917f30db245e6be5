"""The README's shell examples, read from the README itself so a test runs what users
read: a section's ```sh blocks cut into statements (continuation lines joined), each
with the sample output written under it as `# …` comment lines.

A sample is compared with the real output by the keys of its top-level JSON object (or
of the first object of a list): the same keys in the same order; a sample that elides
some (`…` where keys would be) shows a subset, in order.
"""

import json
import re
from dataclasses import dataclass

FENCE = re.compile(r"^```sh\n(.*?)^```$", re.M | re.S)


@dataclass
class Statement:
    command: str
    sample: str  # the comment lines after it, without their `# `; "" when none


def section(readme: str, heading: str) -> str:
    """The text of the `## heading` section, up to the next `## `."""
    start = readme.index(f"## {heading}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start:end if end != -1 else len(readme)]


def statements(text: str) -> list[Statement]:
    """Every statement of the section's sh blocks, in order; the comment lines right
    under a statement (no blank line between) are its sample output."""
    found: list[Statement] = []
    for block in FENCE.findall(text):
        pending, sample_of = "", None
        for line in block.splitlines():
            if pending:
                pending += "\n" + line
                if not line.endswith("\\"):
                    found.append(sample_of := Statement(pending, ""))
                    pending = ""
            elif line.startswith("#"):
                if sample_of is not None:
                    sample_of.sample += line.removeprefix("#").strip() + "\n"
            elif not line.strip():
                sample_of = None
            elif line.endswith("\\"):
                pending = line
            else:
                found.append(sample_of := Statement(line, ""))
    return found


def top_level_keys(text: str) -> tuple[list[str], bool]:
    """The keys of the first JSON object in `text` (of the first element of a list),
    read tolerantly (samples elide values with …), and whether the object is shown
    whole (no … where keys would be)."""
    start = text.find("{")
    if start == -1:
        return [], True
    keys, depth, whole, index = [], 0, True, start
    in_string, string_start = False, 0
    while index < len(text):
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
                if depth == 1 and text[index + 1:].lstrip().startswith(":"):
                    keys.append(text[string_start:index])
        elif char == '"':
            in_string, string_start = True, index + 1
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                break
        elif char == "…" and depth == 1 and _at_key_position(text, index):
            whole = False
        index += 1
    return keys, whole


def _at_key_position(text: str, index: int) -> bool:
    """An ellipsis standing where a key would (after `{` or `,`), not as a value."""
    before = text[:index].rstrip()
    return before.endswith("{") or before.endswith(",")


def matches(sample: str, real: str) -> str | None:
    """None when the sample's keys are the real output's; else what differs."""
    try:
        json.loads(real)
    except ValueError:
        return f"the command's output is not JSON: {real[:200]!r}"
    shown, whole = top_level_keys(sample)
    actual, _ = top_level_keys(real)
    if whole and shown != actual:
        return f"sample keys {shown} != real keys {actual}"
    if not whole and shown != [key for key in actual if key in shown]:
        return f"sample keys {shown} are not, in order, among the real keys {actual}"
    return None
