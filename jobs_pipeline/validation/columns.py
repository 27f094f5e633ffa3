"""Match a file's columns to a ruleset's fields: normalised names (case, spaces, accents),
then the ruleset's aliases (``preco``/``Preço`` -> ``price``). Columns no rule reads are
*unknown*: reported once as a file-level warning, never per record."""

from dataclasses import dataclass

from jobs_pipeline.domain.errors import FeedStructureError
from jobs_pipeline.validation.ruleset import Ruleset, normalise_name


@dataclass(frozen=True)
class ColumnMap:
    renames: dict[str, str]  # normalised file column -> canonical field
    present: set[str]  # canonical fields present in the file
    unknown: list[str]  # normalised names no rule reads


def map_columns(columns: list[str], ruleset: Ruleset, label: str) -> ColumnMap:
    alias_of: dict[str, str] = {}
    for canonical, aliases in ruleset.aliases.items():
        for alias in aliases:
            alias_of[normalise_name(alias)] = normalise_name(canonical)
    renames: dict[str, str] = {}
    for col in columns:
        target = col if col in ruleset.fields or col not in alias_of else alias_of[col]
        renames[col] = target
    targets = list(renames.values())
    clashes = sorted({t for t in targets if targets.count(t) > 1})
    if clashes:
        sources = [c for c, t in renames.items() if t == clashes[0]]
        raise FeedStructureError(f"{label}: columns {', '.join(map(repr, sources))} all mean {clashes[0]!r}")
    known = set(ruleset.fields)
    return ColumnMap(renames={c: t for c, t in renames.items() if c != t}, present=set(targets),
                     unknown=[t for t in targets if t not in known])
