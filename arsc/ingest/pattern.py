"""Folder- and file-name patterns: ``{site}_{adsorbate}`` and friends.

A pattern is literal text with the fields ``{site}``, ``{adsorbate}`` and
``{mode}``; square brackets make a part optional, e.g.
``{site}[_{adsorbate}[_{mode}]]`` (a name without an adsorbate is the bare
site). A ``/`` matches a folder level, so ``{site}/{adsorbate}`` reads
``Fe-Co_qv-n6_graphene/OH``.

Matching rules, chosen so that site names may contain the separators:

- ``{adsorbate}`` matches only a known intermediate (arsc/data/adsorbates.yaml),
  ``bare`` or the bare-site token (``--bare``);
- ``{mode}`` matches one token without the pattern's separator characters;
- ``{site}`` matches any text within one folder level, as short as the rest
  allows, so ``1N1_Co_OH`` gives site ``1N1_Co`` and adsorbate ``OH``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from arsc.errors import ArscInputError
from arsc.ingest.messages import shown
from arsc.ingest.table import BARE

#: Fields a pattern may use; site and adsorbate are required.
FIELDS: tuple[str, ...] = ("site", "adsorbate", "mode")

_TOKEN = re.compile(r"\{([^{}]*)\}|\[|\]|[^{}\[\]]+|[{}]")


@dataclass(frozen=True)
class NameParts:
    """What a name says about a calculation."""

    site: str
    adsorbate: str
    mode: str = ""


@dataclass(frozen=True)
class NamePattern:
    """A compiled name pattern.

    Parameters
    ----------
    pattern
        The pattern text, e.g. ``{site}_{adsorbate}``.
    bare
        The adsorbate token that names the bare-site run (e.g. ``substrate``);
        it is reported as ``bare``.
    """

    pattern: str = "{site}_{adsorbate}"
    bare: str = BARE

    @cached_property
    def levels(self) -> int:
        """Number of path components the pattern spans."""
        return self.pattern.count("/") + 1

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The regular expression the pattern compiles to."""
        return re.compile(self._compile())

    def _adsorbate_names(self) -> list[str]:
        from arsc.adsorbates import adsorbates  # imports ASE: only when a pattern is used

        names = {*adsorbates(), BARE, self.bare}
        return sorted(names, key=lambda n: (-len(n), n))

    def _check_bare(self) -> None:
        """Refuse a bare token that is empty, not a name part, or an intermediate."""
        token = self.bare
        if not token or token != token.strip() or not token.isprintable() or "/" in token:
            raise ArscInputError(
                f"bare-site token {shown(token)!r} is not a name part; give the word that "
                "names the bare-site runs, e.g. substrate"
            )
        from arsc.adsorbates import adsorbates

        if token != BARE and token in adsorbates():
            raise ArscInputError(
                f"bare-site token {token!r} is an intermediate, so its runs would be taken "
                "for bare sites; give the word that names the bare-site runs, e.g. substrate"
            )

    def _compile(self) -> str:
        self._check_bare()
        if not self.pattern.isprintable():
            raise self._error("holds unprintable characters")
        separators = "".join(sorted(set(re.sub(r"\{[^{}]*\}|[\[\]]", "", self.pattern)) | {"/"}))
        token = f"[^{re.escape(separators)}]+"
        field_regex = {
            "site": r"[^/]+?",
            "adsorbate": "|".join(re.escape(n) for n in self._adsorbate_names()),
            "mode": token,
        }
        seen: list[str] = []
        depth = 0
        parts = []
        for m in _TOKEN.finditer(self.pattern):
            text = m.group(0)
            if m.group(1) is not None:
                name = m.group(1)
                if name not in FIELDS:
                    raise self._error(
                        f"unknown field {{{name}}}; allowed: {{site}}, {{adsorbate}}, {{mode}}"
                    )
                if name in seen:
                    raise self._error(f"field {{{name}}} appears twice")
                seen.append(name)
                parts.append(f"(?P<{name}>{field_regex[name]})")
            elif text == "[":
                depth += 1
                parts.append("(?:")
            elif text == "]":
                depth -= 1
                if depth < 0:
                    raise self._error("']' without '['")
                parts.append(")?")
            elif text in "{}":
                raise self._error(f"unbalanced {text!r}")
            else:
                parts.append(re.escape(text))
        if depth:
            raise self._error("'[' without ']'")
        for required in ("site", "adsorbate"):
            if required not in seen:
                raise self._error(f"needs the field {{{required}}}")
        return "".join(parts)

    def _error(self, what: str) -> ArscInputError:
        return ArscInputError(f"name pattern {shown(self.pattern, 80)!r} {what}")

    def parse(self, name: str) -> NameParts | None:
        """Split a relative path (``/``-separated) into site, adsorbate and mode.

        Only the last :attr:`levels` components are matched. Returns None when
        the name does not match.
        """
        tail = "/".join(name.strip("/").split("/")[-self.levels :])
        m = self.regex.fullmatch(tail)
        if m is None:
            return None
        ads = m.group("adsorbate")
        ads = BARE if ads in (None, self.bare) else ads
        mode = m.groupdict().get("mode") or ""
        return NameParts(site=m.group("site"), adsorbate=ads, mode=mode)

    def hint(self) -> str:
        """One line saying what the pattern accepts (for a name that does not match)."""
        names = ", ".join(n for n in self._adsorbate_names() if n != BARE)
        return (
            f"expected {self.pattern!r} with the adsorbate one of {names} "
            f"(bare site: {self.bare!r})"
        )
