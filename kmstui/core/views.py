"""Views: the questions responders ask most, each a filter plus a layout (a group-by and a sort).

Built-in views come first; users add their own in ``views.toml`` in the platformdirs config
directory (``~/.config/kmstui/views.toml`` on Linux)::

    [[view]]
    name = "payments-denied"          # a short id (letters, digits, -)
    title = "Payments: who is denied" # what the list and the command palette show
    filter = "alias:payments error:AccessDenied"
    group_by = "principal,ip"         # optional: one field or two
    sort = "errors"                   # optional: events, errors, first_seen, last_seen, keys, principals, new, values

A file that cannot be read, or a view in it that cannot be used, is named with the reason
(the explorer says it at start) and the rest still works.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import group, query

FILE_NAME = "views.toml"


@dataclass(frozen=True)
class View:
    name: str
    title: str
    filter: str
    group_by: tuple[str, ...] = ()
    sort: str = "events"
    about: str = ""  # one line: what it answers
    origin: str = "built-in"  # or the file it came from


LIFECYCLE = (
    "CreateKey,EnableKey,DisableKey,ScheduleKeyDeletion,CancelKeyDeletion,ImportKeyMaterial,"
    "DeleteImportedKeyMaterial,GetParametersForImport,EnableKeyRotation,DisableKeyRotation,ReplicateKey"
)
SERVICE = 'identity:AWSService OR ip:amazonaws.com OR ip:"AWS Internal"'

BUILT_IN = (
    View(
        "lifecycle",
        "Key lifecycle",
        f"event:={LIFECYCLE}",
        about="keys created, enabled, disabled, scheduled for deletion, key material imported and deleted",
    ),
    View("usage", "Key usage by event and IP", "", ("event", "ip"), about="select a key (2, Enter) to see one key's"),
    View("failures", "Failures by principal", "error:*", ("principal", "error"), about="who fails, and how"),
    View(
        "tampering",
        "Logging tampering",
        "event:=StopLogging,DeleteTrail,PutEventSelectors,UpdateTrail,StartLogging,CreateTrail,PutInsightSelectors"
        " OR event:=PutKeyPolicy,DisableKeyRotation",
        about="trails stopped, deleted or re-pointed; key policies changed",
    ),
    View(
        "grants",
        "Grants",
        "event:=CreateGrant,RetireGrant,RevokeGrant,ListGrants",
        ("event", "principal"),
        about="grants created, retired and revoked (the detail view shows the grantee)",
    ),
    View(
        "cross-account",
        "Cross-account use",
        "crossaccount:true",
        ("principal", "key"),
        about="calls from principals of another account than the event's",
    ),
    View("services", "AWS-service calls alone", SERVICE, ("ip", "event"), about="calls AWS services made for you"),
    View(
        "no-services",
        "AWS-service calls folded away",
        '-identity:AWSService -ip:amazonaws.com -ip:"AWS Internal"',
        about="what people and workloads called directly",
    ),
    View(
        "new",
        "What is new",
        "new:any",
        ("principal", "key"),
        about="first use of a key by a principal, IP, agent, region or context key in the window",
    ),
)


@dataclass(frozen=True)
class Loaded:
    views: list[View]
    problems: list[str]  # one sentence each: the file or view, and why
    path: Path


def config_dir() -> Path:
    """Where the user's views live (KMSTUI_CONFIG_DIR overrides the platform's config dir)."""
    override = os.environ.get("KMSTUI_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("kmstui", appauthor=False))


def _view(entry: object, position: int, origin: str) -> View:
    if not isinstance(entry, dict):
        raise ValueError(f"view {position} is not a table")
    name = entry.get("name")
    title = entry.get("title", name)
    text = entry.get("filter", "")
    if not isinstance(name, str) or not name:
        raise ValueError(f"view {position} has no name")
    if not isinstance(title, str) or not isinstance(text, str):
        raise ValueError(f"view {name!r}: title and filter must be text")
    try:
        query.parse(text)
    except query.FilterError as error:
        raise ValueError(f"view {name!r}: the filter cannot be used ({error})") from None
    by = entry.get("group_by", "")
    if not isinstance(by, str):
        raise ValueError(f'view {name!r}: group_by must be text, as in "event,ip"')
    sort = entry.get("sort", "events")
    try:
        fields = group.parse_fields(by) if by.strip() else ()
        group.sort_rows([], str(sort))
    except group.GroupError as error:
        raise ValueError(f"view {name!r}: {error}") from None
    about = entry.get("about", "")
    return View(name, title, text, fields, str(sort), str(about), origin)


def load(directory: Path | None = None) -> Loaded:
    """The built-in views and the user's; what could not be used is said, never raised."""
    path = (directory or config_dir()) / FILE_NAME
    views = list(BUILT_IN)
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Loaded(views, problems, path)
    except (OSError, UnicodeDecodeError) as error:
        return Loaded(views, [f"{path}: cannot be read ({error.__class__.__name__}); using the built-in views"], path)
    import tomllib  # only for a views.toml there is: the explorer's start reads none most often

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return Loaded(views, [f"{path}: not valid TOML ({error}); using the built-in views"], path)
    entries = data.get("view", [])
    if not isinstance(entries, list):
        return Loaded(views, [f"{path}: [[view]] tables expected; using the built-in views"], path)
    for position, entry in enumerate(entries, 1):
        try:
            view = _view(entry, position, str(path))
        except ValueError as error:
            problems.append(f"{path}: {error}; skipped")
            continue
        views = [v for v in views if v.name != view.name] + [view]  # a user's view replaces a built-in one
    return Loaded(views, problems, path)


def applied_filter(view: View, current: str) -> str:
    """The view's filter, keeping the window (since:/until:) of the current one."""
    from .novelty import window_terms

    window = window_terms(current)
    return " ".join(part for part in (f"({view.filter})" if " OR " in view.filter else view.filter, *window) if part)
