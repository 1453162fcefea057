"""Reading and writing Rasa 3 NLU YAML (the subset this project uses)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlu.normalize import fold

REPO = Path(__file__).resolve().parent.parent
TRAIN_DIR = REPO / "data" / "nlu"
TEST_DIR = REPO / "data" / "nlu-test"

# [text](entity) | [text](entity:value) | [text]{"entity": ..., "value": ...}
_ANNOTATION_RE = re.compile(
    r"\[(?P<text>[^\]\n]+)\](?:\((?P<short>[^)\n]+)\)|(?P<json>\{[^}\n]+\}))"
)


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    text: str


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[Entity, ...] = ()
    lang: str | None = None
    variant: str | None = None
    annotated: str = ""


@dataclass
class NluData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)

    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})


def parse_annotated(line: str) -> tuple[str, tuple[Entity, ...]]:
    """Strip entity annotations; return the plain text and the entities."""
    entities: list[Entity] = []

    def repl(m: re.Match[str]) -> str:
        surface = m.group("text")
        if m.group("json"):
            spec: dict[str, Any] = json.loads(m.group("json"))
            name = str(spec["entity"])
            value = str(spec.get("value", surface))
        else:
            name, _, value = m.group("short").partition(":")
            value = value or surface
        entities.append(Entity(name.strip(), value.strip(), surface))
        return surface

    return _ANNOTATION_RE.sub(repl, line), tuple(entities)


def fold_annotated(line: str) -> str:
    """Fold the text of an annotated example, keeping annotations valid."""
    out: list[str] = []
    pos = 0
    for m in _ANNOTATION_RE.finditer(line):
        out.append(_fold_keep_edges(line[pos : m.start()]))
        surface = fold(m.group("text"))
        if m.group("json"):
            spec = json.loads(m.group("json"))
            out.append(f"[{surface}]" + json.dumps(spec, ensure_ascii=False))
        else:
            name, _, value = m.group("short").partition(":")
            if value:
                spec = {"entity": name.strip(), "value": value.strip()}
                out.append(f"[{surface}]" + json.dumps(spec, ensure_ascii=False))
            else:
                out.append(f"[{surface}]({name.strip()})")
        pos = m.end()
    out.append(_fold_keep_edges(line[pos:]))
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _fold_keep_edges(chunk: str) -> str:
    """Fold a chunk between annotations without losing its edge spaces."""
    if not chunk.strip():
        return " " if chunk else ""
    lead = " " if chunk[0].isspace() else ""
    trail = " " if chunk[-1].isspace() else ""
    return lead + fold(chunk) + trail


def _lang_variant(path: Path) -> tuple[str | None, str | None]:
    parts = [path.stem, *(p.name for p in path.parents)]
    for part in parts:
        head, _, tail = part.partition("-")
        if head in ("kk", "ru"):
            return head, (tail or None) if part == path.stem else None
    return None, None


def _examples_block(raw: Any) -> Iterator[str]:
    if isinstance(raw, str):
        for line in raw.splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield line[2:].strip()
    elif isinstance(raw, list):
        for item in raw:
            text = item.get("text") if isinstance(item, dict) else item
            if text:
                yield str(text).strip()


def read_file(path: Path, data: NluData | None = None) -> NluData:
    data = data or NluData()
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    lang, variant = _lang_variant(path)
    for block in doc.get("nlu") or []:
        meta = block.get("metadata") or {}
        block_lang = meta.get("lang", lang) if isinstance(meta, dict) else lang
        block_variant = meta.get("variant", variant) if isinstance(meta, dict) else variant
        if "intent" in block:
            for line in _examples_block(block.get("examples")):
                text, ents = parse_annotated(line)
                data.examples.append(
                    Example(text, block["intent"], ents, block_lang, block_variant, line)
                )
        elif "synonym" in block:
            data.synonyms.setdefault(str(block["synonym"]), []).extend(
                _examples_block(block.get("examples"))
            )
        elif "regex" in block:
            data.regexes.setdefault(str(block["regex"]), []).extend(
                _examples_block(block.get("examples"))
            )
    return data


def read(paths: Iterable[Path]) -> NluData:
    data = NluData()
    for path in paths:
        files = sorted(path.rglob("*.yml")) if path.is_dir() else [path]
        for f in files:
            read_file(f, data)
    return data


def write_folded(source: Path, target: Path) -> int:
    """Write the folded copy of the training data that Rasa trains on."""
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.yml"):
        old.unlink()
    count = 0
    for f in sorted(source.rglob("*.yml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        blocks = []
        for block in doc.get("nlu") or []:
            if "intent" in block or "synonym" in block:
                lines = list(_examples_block(block.get("examples")))
                if "intent" in block:
                    folded = [fold_annotated(x) for x in lines]
                else:
                    folded = [fold(x) for x in lines]
                seen: list[str] = []
                for x in folded:
                    if x and x not in seen:
                        seen.append(x)
                count += len(seen) if "intent" in block else 0
                key = "intent" if "intent" in block else "synonym"
                blocks.append({key: block[key], "examples": "".join(f"- {x}\n" for x in seen)})
            else:
                blocks.append(block)
        name = "-".join(f.relative_to(source).with_suffix("").parts) + ".yml"
        (target / name).write_text(
            yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    return count
