"""Principals: a record's userIdentity as the principal vocabulary keeps it (a short form
such as ``role/Name (session)``, the ARN only where the short form cannot rebuild it), and
a batch's principals as a worker gathers them (:class:`PrincipalTable`)."""

from __future__ import annotations

from array import array
from collections.abc import Callable

import numpy as np

from .batch import Kind, PrincipalPart
from .cloudtrail import _Identity
from .model import UNKNOWN_IDENTITY, Identity
from .vocab import first_seen

ASSUMED_ROLE = "AssumedRole"

_session_codes: Callable[..., tuple[bytes, bytes]] | None
_encoded_texts: Callable[[list, bool], tuple[bytes, bytes, bytes | None] | None] | None
try:  # a file's sessions into the batch's principals in one pass, where the C scanner is built
    from ._scan import encoded_texts as _encoded_texts
    from ._scan import session_codes as _session_codes
except ImportError:  # pragma: no cover - the scanner is optional: PrincipalTable._sessions does the same
    _session_codes = _encoded_texts = None


class PrincipalTable:
    """A batch's principals, codes in the order first met (0 is none), kept as the columns a
    :class:`PrincipalPart` sends. An assumed-role session (new every few calls on a busy
    trail) is added as its short form and a kind code, a file's at once in numpy, with no
    Identity object. Each principal comes once in a batch: a principal without an ARN (every
    session) is found again by its short form and kind, so that one seen in several of the
    batch's files (the usual on a repetitive trail) is sent, and matched in the main
    process, once. The index still gives any repeat one code."""

    __slots__ = ("_arns", "_codes", "_kind", "_kinds", "_shorts", "_unnamed")

    def __init__(self):
        self._shorts: list[str] = [""]  # per code
        self._kind = array("I", [0])  # per code, its code in _kinds
        self._kinds: dict[Kind, int] = {}  # (identity_type, account, invoked_by) -> kind code
        self._arns: dict[int, str] = {}  # code -> ARN, where there is one
        self._codes: dict[Identity, int] = {}  # the principals added one by one -> code
        self._unnamed: dict[int, dict[str, int]] = {}  # kind code -> short form -> code, without an ARN

    def __len__(self) -> int:
        return len(self._shorts)

    def __getitem__(self, identity: Identity | None) -> int:
        """The code of ``identity``, added if it is new (as a batch vocabulary's ``vocab[value]``)."""
        if identity is None:
            return 0
        code = self._codes.get(identity)
        if code is None:
            kind = self.kind((identity.identity_type, identity.account, identity.invoked_by))
            if identity.arn is None:  # perhaps a session a file of the batch resolved in bulk
                code = self._unnamed.get(kind, {}).get(identity.short)
            if code is None:
                code = len(self._shorts)
                self._shorts.append(identity.short)
                self._kind.append(kind)
                if identity.arn is not None:
                    self._arns[code] = identity.arn
                else:
                    self._unnamed.setdefault(kind, {})[identity.short] = code
            self._codes[identity] = code
        return code

    def kind(self, kind: Kind) -> int:
        code = self._kinds.get(kind)
        if code is None:
            code = self._kinds[kind] = len(self._kinds)
        return code

    def sessions(
        self,
        session_codes: np.ndarray,
        sessions: list,
        accounts: tuple[np.ndarray, list],
        invoked: tuple[np.ndarray, list],
    ) -> np.ndarray:
        """The codes of one file's assumed-role sessions, a row each: the short form
        ``sessions[session_codes[i]]`` (distinct texts; ``sessions[0]`` is None), called from
        the account and for the service the other two columns give (codes into their values),
        with no ARN (the short form and the account rebuild it). Each distinct (account,
        service) is looked up once, then each distinct (session, kind): a principal the batch
        has (from another file) or a new one, in the order first met. In C where the scanner
        is built (_scan.session_codes), else as _sessions does it."""
        kinds = self._kinds_of(accounts, invoked)
        if _session_codes is None:
            return self._sessions(session_codes, sessions, kinds)
        codes, added = _session_codes(
            self._unnamed,
            self._shorts,
            np.ascontiguousarray(kinds, dtype=np.uint32),
            np.ascontiguousarray(session_codes, dtype=np.uint32),
            sessions,
        )
        self._kind.frombytes(added)
        return np.frombuffer(codes, dtype=np.uint32)

    def _kinds_of(self, accounts: tuple[np.ndarray, list], invoked: tuple[np.ndarray, list]) -> np.ndarray:
        """The kind code of each row called from the account and for the service the two columns
        give: each distinct pair looked up once, in the order of their codes."""
        (account_codes, account_values), (invoked_codes, invoked_values) = accounts, invoked
        width = len(invoked_values)
        pairs = account_codes.astype(np.int64) * width + invoked_codes
        if len(account_values) * width <= 4 * len(pairs) + 64:  # the usual: few accounts and services
            used = np.flatnonzero(np.bincount(pairs, minlength=len(account_values) * width))
            table = np.zeros(len(account_values) * width, dtype=np.uint32)
        else:
            used = np.unique(pairs)
            table = None
        kind_of = np.array(
            [
                self.kind((ASSUMED_ROLE, account_values[pair // width], invoked_values[pair % width]))
                for pair in used.tolist()
            ],
            dtype=np.uint32,
        )
        if table is None:
            return kind_of[np.searchsorted(used, pairs)]
        table[used] = kind_of
        return table[pairs]

    def _sessions(self, session_codes: np.ndarray, sessions: list, kinds: np.ndarray) -> np.ndarray:
        """sessions in numpy and Python, rows of ``kinds`` given: the reference for
        _scan.session_codes, and the way without it. The rows are grouped by (session, kind)."""
        keys = session_codes.astype(np.int64) << 32 | kinds.astype(np.int64)
        group, firsts = first_seen(keys)
        found = keys[firsts]
        shorts = list(map(sessions.__getitem__, (found >> 32).tolist()))
        codes = np.zeros(len(shorts), dtype=np.uint32)
        added = array("I")
        for at, (short, kind) in enumerate(zip(shorts, (found & 0xFFFFFFFF).tolist(), strict=True)):
            if short is None:  # no session: principal 0
                continue
            table = self._unnamed.setdefault(kind, {})
            code = table.get(short)
            if code is None:
                code = table[short] = len(self._shorts)
                self._shorts.append(short)
                added.append(kind)
            codes[at] = code
        self._kind.extend(added)
        return codes[group]

    def part(self) -> PrincipalPart:
        """The batch's principals as they cross the pipe: PrincipalPart.of's part, the short forms
        encoded and their digests computed in one C pass where the scanner is built."""
        found = _encoded_texts(self._shorts, True) if _encoded_texts is not None and self._shorts[0] == "" else None
        if found is None:  # (a short form that is not plain UTF-8, or no C): the reference
            return PrincipalPart.of(self._shorts, self._kind, list(self._kinds), self._arns)
        blob, ends, digests = found
        assert digests is not None  # asked for
        # the ends of the texts from code 0 (empty), each one's digest from code 1
        cumulative = np.frombuffer(ends, dtype=np.int64)[1:]
        shorts = np.frombuffer(digests, dtype=np.uint64)[1:]
        return PrincipalPart.of_encoded(blob, cumulative, shorts, self._kind, list(self._kinds), self._arns)


class _PrincipalCodes(dict):
    """An identity's fields (a tuple, as _Identity orders them) -> principal code."""

    __slots__ = ("vocab",)

    def __init__(self, vocab: PrincipalTable):
        super().__init__()
        self.vocab = vocab

    def __missing__(self, ident):
        principal = _PRINCIPALS.get(ident)
        if principal is None:
            if len(_PRINCIPALS) > 200_000:  # bounded: a worker process sees many files
                _PRINCIPALS.clear()
            principal = _PRINCIPALS[ident] = _principal(_Identity(*ident))
        code = self[ident] = self.vocab[principal]
        return code


_PRINCIPALS: dict = {}  # identity fields -> principal, across the files one process decodes


def _principal(ident: _Identity | None) -> Identity:
    """The principal vocabulary's entry for a record's userIdentity.
    Whether a call crosses accounts depends on the event too: the index works it out."""
    if ident is None:
        return UNKNOWN_IDENTITY
    kind = _shared(ident.type)
    arn = ident.arn
    account = _shared(ident.accountId)
    invoked = _shared(ident.invokedBy)
    if kind == ASSUMED_ROLE and arn:  # the commonest shape, on the shortest path
        at = arn.find(":assumed-role/")
        if at > 0:
            role, _, session = arn[at + 14 :].partition("/")
            short = f"role/{role} ({session})" if session else f"role/{role}"
            if session and account and arn == assumed_role_arn(short, account):
                arn = None  # rebuilt from the short form when wanted: a session-unique string less to keep
            return Identity(short, arn, kind, account, invoked)
    if kind == "Root" or (arn and arn.endswith(":root")):
        short = "root"
    elif kind == "AWSService":
        short = f"service:{invoked or ident.principalId or '?'}"
    elif kind == "AWSAccount":
        short = f"account:{account or ident.principalId or '?'}"
    elif arn:
        short = _short_from_arn(arn)
        if ident.userName and short.startswith("user/"):
            short = f"user/{ident.userName}"  # CloudTrail's userName has no IAM path to strip
    elif kind is None and invoked:
        short = invoked
    else:
        short = ident.userName or ident.principalId or invoked or "(unknown)"
    return Identity(short, arn, kind, account, invoked)


_SHARED: dict[str, str] = {}


def _shared(text: str | None) -> str | None:
    """One string object for values that repeat across principals (types, accounts, services)."""
    if text is None:
        return None
    shared = _SHARED.get(text)
    if shared is None:
        if len(_SHARED) > 10_000:
            _SHARED.clear()
        shared = _SHARED[text] = text
    return shared


def assumed_role_arn(short: str, account: str) -> str | None:
    """The STS ARN behind ``role/Name (session)`` in the aws partition, or None if it is not one."""
    if not short.startswith("role/") or not short.endswith(")") or " (" not in short:
        return None
    role, _, session = short[5:-1].partition(" (")
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"


def _short_from_arn(arn: str) -> str:
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else arn
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        role, _, session = rest.partition("/")
        return f"role/{role} ({session})" if session else f"role/{role}"
    if kind in ("user", "role", "group") and "/" in rest:
        return f"{kind}/{rest.rsplit('/', 1)[1]}"  # drop the IAM path
    if kind == "federated-user":
        return f"federated/{rest}"
    return resource
