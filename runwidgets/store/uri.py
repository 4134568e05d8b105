"""Tracking URIs without their credentials: for links, reprs, log lines and error messages.

A ``http://user:password@host`` URI is how many teams reach an MLflow server.
The password must never reach a synced trait, a repr, a log line or an
exception message; everything that shows a URI or an error passes it through here.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit


def _host(parts) -> str:
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def public_uri(uri: str) -> str:
    """The URI with no user and no password: what links and the MLflow UI address use."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        return urlunsplit(parts._replace(netloc=_host(parts)))
    return uri


def redact(uri: str) -> str:
    """The URI with its password shown as ``***`` (the user stays: it tells which account)."""
    parts = urlsplit(uri)
    if parts.password:
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{_host(parts)}"))
    return uri


def secrets_of(uri: str | None) -> list[str]:
    """Every spelling of the URI's password that could show up in a message."""
    if not uri:
        return []
    parts = urlsplit(uri)
    if not parts.password:
        return []
    raw = parts.netloc.rpartition("@")[0].partition(":")[2]
    found = {raw, unquote(raw), quote(unquote(raw), safe="")}
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(text: str, uri: str | None) -> str:
    """``text`` with the URI's password replaced by ``***`` wherever it appears."""
    for secret in secrets_of(uri):
        text = text.replace(secret, "***")
    return text


def safe_href(url: str | None) -> str:
    """``url`` when it is an http(s) link, else "": nothing else (``javascript:``, ``file:``) becomes a link."""
    if not isinstance(url, str):
        return ""
    scheme = urlsplit(url.strip()).scheme.lower()
    return url if scheme in ("http", "https") else ""
