"""Principals: a record's userIdentity as the principal vocabulary keeps it (a short form
such as ``role/Name (session)``, the ARN only where the short form cannot rebuild it)."""

from __future__ import annotations

from functools import partial

from .cloudtrail import _Codes, _Identity
from .model import UNKNOWN_IDENTITY, Identity

_new_identity = partial(tuple.__new__, Identity)  # Identity(*fields) without a Python-level __new__


class _PrincipalCodes(dict):
    """An identity's fields (a tuple, as _Identity orders them) -> principal code."""

    __slots__ = ("vocab",)

    def __init__(self, vocab: _Codes):
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
    if kind == "AssumedRole" and arn:  # the commonest shape, on the shortest path
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
