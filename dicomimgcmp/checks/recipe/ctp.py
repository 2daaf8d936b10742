"""RSNA CTP's ``DicomPixelAnonymizer.script``: signatures in braces, each followed by its rectangles ``(x,y,w,h)``.

Read as CTP reads it (``PixelScript.getSignatures``): every ``{...}`` is a signature, every ``(...)`` between it
and the next one a region (text elsewhere is commentary). Evaluated as CTP evaluates it
(``DicomObject.matches``): operands ``Attribute.method("value")`` where the attribute is a keyword or a tag
(``[0008,0070]``, items of sequences separated by ``::``) and its value "" when absent; methods ``equals``,
``equalsIgnoreCase``, ``contains``, ``containsIgnoreCase``, ``startsWith(IgnoreCase)``, ``endsWith(IgnoreCase)``,
``matches`` (a Java regular expression on the whole value), ``isLessThan``, ``isGreaterThan`` (digits and dots
compared as numbers); ``*`` is and, ``+`` or, ``!`` not (in that order of precedence), parentheses group, ``//``
comments to the end of the line; a signature CTP cannot parse is false. The first signature that matches gives
the regions; CTP blanks them whatever the other signatures say.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dicomimgcmp.checks.recipe.regions import NO_RULE, Expectation, Region
from dicomimgcmp.errors import ConfigError
from dicomimgcmp.read.attributes import is_attribute

_SIGNATURE = re.compile(r"\{[^}]*\}")
_REGION = re.compile(r"\([^)]*\)")
_OPERAND = re.compile(r'\s*(true|false)\b|\s*([^.]+?)\s*\.\s*(\w+)\s*\(\s*("(?:[^"]*)")\s*\)', re.S)
_PRECEDENCE = {"+": 1, "*": 2}


@dataclass(frozen=True)
class Signature:
    script: str
    regions: tuple[Region, ...]
    line: int  # where it starts in the file, to name it

    @property
    def name(self) -> str:
        return f"line {self.line}: {{{' '.join(self.script.split())}}}"


@dataclass(frozen=True)
class CtpScript:
    """A parsed script; :meth:`expect` answers for the attribute values of a source header."""

    name: str
    signatures: tuple[Signature, ...]

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes the signatures read (one CTP cannot name reads as "", as in CTP)."""
        found: dict[str, None] = {}
        for sig in self.signatures:
            try:
                found.update(dict.fromkeys(t for t in _tokens(_without_comments(sig.script), None)
                                           if isinstance(t, str) and t not in "()*+!"))
            except ValueError:
                continue  # a signature CTP cannot parse is false, whatever the values
        return tuple(spec for spec in found if is_attribute(spec))

    def expect(self, values: Mapping[str, str]) -> Expectation:
        for sig in self.signatures:
            if matches(sig.script, values):
                return Expectation((sig.name,), sig.regions, flags_only=not sig.regions)
        return NO_RULE


def read_ctp_script(path: Path) -> CtpScript:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"recipe {path}: cannot read it ({exc.strerror or exc})") from None
    signatures = parse_signatures(text)
    if not signatures:
        raise ConfigError(f"recipe {path}: no signature ({{...}} followed by regions (x,y,w,h)) in it")
    return CtpScript(path.name, signatures)


def parse_signatures(text: str) -> tuple[Signature, ...]:
    found = list(_SIGNATURE.finditer(text))
    signatures = []
    for k, match in enumerate(found):
        between = text[match.end():found[k + 1].start() if k + 1 < len(found) else len(text)]
        regions = tuple(r for r in map(_region, _REGION.findall(between)) if r is not None)
        signatures.append(Signature(match[0][1:-1], regions, text.count("\n", 0, match.start()) + 1))
    return tuple(signatures)


def _region(text: str) -> Region | None:
    """``(x, y, w, h)`` as a region; CTP skips one that is not four numbers (so do we)."""
    parts = text[1:-1].split(",")
    try:
        x, y, w, h = (int(p.strip()) for p in parts)
    except ValueError:
        return None
    return Region(x, y, x + w, y + h)


def matches(script: str, values: Mapping[str, str]) -> bool:
    """Whether a signature matches attribute values (absent ones read as ""); False for a script CTP cannot
    parse, as CTP logs and answers."""
    try:
        tokens = _tokens(_without_comments(script), values)
        value, rest = _expression(tokens, 0)
    except (ValueError, IndexError):
        return False
    return value if rest == len(tokens) else False


def _without_comments(script: str) -> str:
    return re.sub(r"//[^\n]*", "", script)


def _tokens(script: str, values: Mapping[str, str] | None) -> list:
    """Operands evaluated to booleans, and the operator and parenthesis characters (without ``values``, the
    operands' attributes)."""
    tokens: list = []
    at = 0
    while at < len(script):
        char = script[at]
        if char.isspace():
            at += 1
        elif char in "()*+!":
            tokens.append(char)
            at += 1
        elif char == "[" or char.isalpha():
            match = _OPERAND.match(script, at)
            if match is None:
                raise ValueError(f"cannot read an operand at {script[at:at + 30]!r}")
            if match[1]:
                tokens.append(match[1] == "true")
            elif values is None:
                tokens.append(match[2].strip())
            else:
                tokens.append(_apply(values.get(match[2].strip(), ""), match[3], match[4][1:-1]))
            at = match.end()
        else:
            raise ValueError(f"unexpected {char!r}")
    return tokens


def _apply(element: str, method: str, match: str) -> bool:
    lower, match_lower = element.lower(), match.lower()
    if method in ("isLessThan", "isGreaterThan"):
        try:
            a, b = (float(re.sub(r"[^0-9.]", "", v)) for v in (lower, match_lower))
        except ValueError:
            return False
        return a < b if method == "isLessThan" else a > b
    if method == "matches":
        try:
            return re.fullmatch(match, element) is not None
        except re.error:
            return False
    tests = {
        "equals": element == match, "equalsIgnoreCase": lower == match_lower,
        "contains": match in element, "containsIgnoreCase": match_lower in lower,
        "startsWith": element.startswith(match), "startsWithIgnoreCase": lower.startswith(match_lower),
        "endsWith": element.endswith(match), "endsWithIgnoreCase": lower.endswith(match_lower),
    }
    return tests.get(method, False)  # CTP: an unknown function is false


def _expression(tokens: list, at: int, min_precedence: int = 1) -> tuple[bool, int]:
    """Precedence climbing over ``+`` (1) and ``*`` (2), left to right, as CTP's operator stack does."""
    value, at = _unary(tokens, at)
    while at < len(tokens) and tokens[at] in _PRECEDENCE and _PRECEDENCE[tokens[at]] >= min_precedence:
        op = tokens[at]
        right, at = _expression(tokens, at + 1, _PRECEDENCE[op] + 1)
        value = (value or right) if op == "+" else (value and right)
    return value, at


def _unary(tokens: list, at: int) -> tuple[bool, int]:
    token = tokens[at]
    if token == "!":
        value, at = _unary(tokens, at + 1)
        return not value, at
    if token == "(":
        value, at = _expression(tokens, at + 1)
        if tokens[at] != ")":
            raise ValueError("')' expected")
        return value, at + 1
    if isinstance(token, bool):
        return token, at + 1
    raise ValueError(f"unexpected {token!r}")
