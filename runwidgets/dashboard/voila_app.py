"""Voila as the dashboard runs it: reachable by its user only, and leaving no kernel behind.

``python -m runwidgets.dashboard.voila_app NOTEBOOK [voila options]``; ``server.py``
builds the command. On top of Voila:

- **A gate on every request.** The ``Host`` must be a loopback name unless
  the server listens beyond loopback (``--ip``): a DNS-rebinding page, whose
  requests carry its own host name, gets a 403. An ``Origin`` must be the
  server's own. A request another site's page makes (an ``<img>``, a
  ``fetch``, a frame; the browser says so in ``Sec-Fetch-*``) is refused
  before Voila starts a kernel for it; a person following a link is let in.
- **Kernels of closed pages end.** Voila's own clean-up runs on the page's
  ``beforeunload``, which a crashed tab, a sleeping laptop or a killed browser
  never send. A kernel no page has been connected to for the cull timeout
  is shut down, however busy its poller keeps it.
- **Stopping stops the kernels**: Voila's own ``stop()`` leaves them running.
"""

from __future__ import annotations

import ipaddress
import os
import time
from urllib.parse import urlsplit

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from tornado.ioloop import IOLoop
from voila.app import Voila

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
ENV_OPEN = "RUNWIDGETS_DASHBOARD_OPEN"  # "1": listening beyond loopback, the Host check is off (a token guards)


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    name = _hostname(host)
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(headers, open_to_network: bool) -> str | None:
    """Why a request must be refused, or None. ``headers``: the request's (case-insensitive)."""
    host = headers.get("Host", "")
    if not open_to_network and not is_loopback(host):
        return f"Host {host!r} is not this machine's loopback name (a DNS-rebinding page?)"
    origin = headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc.lower() != host.lower():
        return f"requests from {origin} are not allowed"
    site = headers.get("Sec-Fetch-Site")
    if site in ("cross-site", "same-site"):
        navigating = headers.get("Sec-Fetch-Mode") == "navigate" and headers.get("Sec-Fetch-Dest") == "document"
        if not navigating:
            return "another site's page cannot load the dashboard (only a person following a link can)"
    return None


class _Gate:
    """Mixed in front of each Voila handler: refuse before the handler does any work."""

    def prepare(self):
        why = refusal(self.request.headers, os.environ.get(ENV_OPEN) == "1")
        if why:
            raise web.HTTPError(403, why)
        return super().prepare()


def _gated(spec):
    pattern, handler, *rest = spec
    gated = type(f"Gated{handler.__name__}", (_Gate, handler), {})
    return (pattern, gated, *rest)


class UnwatchedKernelCuller(AsyncMappingKernelManager):
    """Culls a kernel that no page has been connected to for ``cull_idle_timeout`` seconds.

    Jupyter's culler measures idleness by messages, and a dashboard's poller
    sends one every few seconds: by that measure its kernel is never idle.
    What tells a closed page is the count of its websocket connections.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._unwatched_since: dict[str, float] = {}

    async def cull_kernel_if_idle(self, kernel_id: str):
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            self._unwatched_since.pop(kernel_id, None)
            return
        if self._kernel_connections.get(kernel_id, 0) > 0:
            self._unwatched_since.pop(kernel_id, None)
            return
        if getattr(kernel, "execution_state", None) == "busy":  # still rendering the page
            return
        since = self._unwatched_since.setdefault(kernel_id, time.monotonic())
        if time.monotonic() - since >= self.cull_idle_timeout:
            self.log.info("Shutting down kernel %s: no page connected for %.0f s", kernel_id, time.monotonic() - since)
            self._unwatched_since.pop(kernel_id, None)
            await self.shutdown_kernel(kernel_id)


class DashboardVoila(Voila):
    def init_handlers(self):
        return [_gated(spec) for spec in super().init_handlers()]

    def stop(self):
        try:
            IOLoop.current().run_sync(lambda: self.kernel_manager.shutdown_all(now=True), timeout=15)
        except Exception as e:  # the caller kills what is left by process id
            self.log.warning("could not shut every kernel down: %s", e)
        super().stop()


main = DashboardVoila.launch_instance

if __name__ == "__main__":
    main()
