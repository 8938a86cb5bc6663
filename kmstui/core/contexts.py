"""Encryption contexts, decoded once per distinct raw text and kept flat for the batch: a
request's own context, and ReEncrypt's and CreateGrant's labelled ones."""

from __future__ import annotations

from itertools import chain

import msgspec
import numpy as np

from .batch import ContextPart
from .cloudtrail import _UNREADABLE, as_text

_context_decoder = msgspec.json.Decoder(dict)
_string_context_decoder = msgspec.json.Decoder(dict[str, str])


_string_contexts_decoder = msgspec.json.Decoder(list[dict[str, str]])


class _ContextBuilder:
    """A batch's encryption contexts, built flat as they are met.

    A request's own context is looked up by its raw text: within a file the same context
    (a bucket, a volume, a table) comes back again and again, and is decoded once. Pairs
    stay in the order the record gives them."""

    def __init__(self):
        self.codes: dict = {}  # raw text, or a labelled tuple -> local code (from 1)
        self.trail_info: list[tuple[str | None, str | None]] = [
            (None, None)
        ]  # code -> (aws:cloudtrail:arn, aws:s3:arn)
        self.with_trail: set[int] = set()  # the codes whose trail_info names a trail
        self.counts: list[int] = []
        self.labels: list[str] = []
        self.keys: list[str] = []
        self.values: list[str] = []

    def of_plain_many(self, raws: list) -> list[int]:
        """Local codes for contexts given by their raw text (None for none); the new ones
        are decoded together, in one call, and appended in bulk."""
        codes = self.codes
        new = [raw for raw in raws if raw is not None and len(raw) > 4 and raw not in codes]
        if new:
            joined = b"[" + b",".join(new) + b"]"
            try:  # the usual shape, string to string
                contexts = _string_contexts_decoder.decode(joined)
            except _UNREADABLE:
                for raw in new:
                    codes[raw] = self._of_plain(raw)
            else:
                self._add_plain(new, contexts, b'"aws:cloudtrail:arn"' in joined)
        return [0 if raw is None or len(raw) <= 4 else codes[raw] for raw in raws]

    def _add_plain(self, raws: list[bytes], contexts: list[dict[str, str]], trails: bool) -> None:
        """Add new contexts, decoded; ``trails``: whether any may be CloudTrail's own."""
        first = len(self.counts) + 1
        if all(contexts):
            self.codes.update(zip(raws, range(first, first + len(raws)), strict=True))
        else:
            code = first - 1
            for raw, context in zip(raws, contexts, strict=True):
                code += bool(context)
                self.codes[raw] = code if context else 0
            contexts = [context for context in contexts if context]
        sizes = list(map(len, contexts))
        self.counts.extend(sizes)
        self.labels.extend([""] * sum(sizes))
        self.keys.extend(chain.from_iterable(contexts))
        self.values.extend(chain.from_iterable(map(dict.values, contexts)))
        self.trail_info.extend([(None, None)] * len(contexts))
        for raw in raws if trails else ():
            if b'"aws:cloudtrail:arn"' in raw:  # CloudTrail encrypting one of its log files
                code = self.codes[raw]
                context = contexts[code - first]
                trail = context.get("aws:cloudtrail:arn") or None
                self.trail_info[code] = (trail, context.get("aws:s3:arn") or None)
                if trail:
                    self.with_trail.add(code)

    def _of_plain(self, raw: bytes) -> int:
        """One context that is not string to string: values are kept as their JSON text."""
        try:
            context = _string_context_decoder.decode(raw)
        except _UNREADABLE:
            try:
                return self._add([("", _context_decoder.decode(raw))])
            except _UNREADABLE:
                return 0
        return self._add_strings(context)

    def of_parts(self, own: bytes | None, source, destination, constraints) -> int:
        """The local code of a request's labelled contexts: its own (raw text), ReEncrypt's
        source and destination, CreateGrant's constraints (0 for none)."""
        if source is None and destination is None and constraints is None:
            return self.of_plain_many([own])[0]
        decoded = None
        if own is not None and len(own) > 4:
            try:
                decoded = _context_decoder.decode(own)
            except _UNREADABLE:
                decoded = None
        constraints = constraints if isinstance(constraints, dict) else {}
        groups = [
            ("", decoded),
            ("source", source),
            ("destination", destination),
            ("grant constraint (subset)", constraints.get("encryptionContextSubset")),
            ("grant constraint (equals)", constraints.get("encryptionContextEquals")),
        ]
        identity = tuple(
            (label, tuple(_pairs(context))) for label, context in groups if isinstance(context, dict) and context
        )
        code = self.codes.get(identity)
        if code is None:
            code = self.codes[identity] = self._add(groups)
        return code

    def _add_strings(self, context: dict[str, str]) -> int:
        count = len(context)
        if not count:
            return 0
        self.labels.extend([""] * count)
        self.keys.extend(context)
        self.values.extend(context.values())
        self.counts.append(count)
        self._note_trail(context.get("aws:cloudtrail:arn") or None, context.get("aws:s3:arn") or None)
        return len(self.counts)

    def _add(self, groups: list) -> int:
        count = 0
        trail = s3 = None
        for label, context in groups:
            if not isinstance(context, dict) or not context:
                continue
            for key, value in context.items():
                self.labels.append(label)
                self.keys.append(str(key))
                self.values.append(value if isinstance(value, str) else as_text(value) or "")
                count += 1
            trail = trail or _text_or_none(context.get("aws:cloudtrail:arn"))
            s3 = s3 or _text_or_none(context.get("aws:s3:arn"))
        if not count:
            return 0
        self.counts.append(count)
        self._note_trail(trail, s3)
        return len(self.counts)

    def _note_trail(self, trail: str | None, s3: str | None) -> None:
        """The trail and log file of the context just added (CloudTrail encrypting a log file)."""
        if trail:
            self.with_trail.add(len(self.trail_info))
        self.trail_info.append((trail, s3))

    def part(self) -> ContextPart:
        part = ContextPart(counts=np.array(self.counts, dtype=np.uint32))
        for name, column in (("labels", self.labels), ("keys", self.keys), ("values", self.values)):
            unique = list(dict.fromkeys(column))
            index = dict(zip(unique, range(len(unique)), strict=True))
            setattr(part, name, unique)
            setattr(part, name[:-1], np.fromiter(map(index.__getitem__, column), dtype=np.uint32, count=len(column)))
        return part


def _pairs(context) -> tuple:
    """A context as hashable pairs, in the record's order (an identity for labelled sets)."""
    if not isinstance(context, dict) or not context:
        return ()
    return tuple((str(k), v if isinstance(v, str) else as_text(v) or "") for k, v in context.items())


def _text_or_none(value) -> str | None:
    return value if isinstance(value, str) and value else None
