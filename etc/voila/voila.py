"""Voilà settings for the lab's apps on a small (workshop) server.

``make app`` passes ``--Voila.config_file_paths=etc/voila``, so Voilà reads this file;
anything here can be overridden on the command line, e.g.
``make app VOILA_ARGS="--MappingKernelManager.cull_idle_timeout=3600 --pool_size=0"``.

1. **Idle kernels are culled.** A visitor's kernel that has been idle for
   ``cull_idle_timeout`` seconds is shut down, checked every ``cull_interval`` seconds,
   even while its tab is still open (``cull_connected``): a forgotten tab must not hold
   a kernel (0.6–0.9 GB with torch, measured) for the rest of the workshop. Moving a slider is
   activity, so only a tab nobody touched for 20 minutes loses its kernel.
2. **A closed tab frees its kernel at once.** On ``beforeunload`` Voilà's page posts
   ``/voila/api/shutdown/<kernel>`` with the ``_xsrf`` value it reads from the page's
   cookie, but standalone Voilà never sets that cookie, so every such request failed with
   ``403 '_xsrf' argument missing from POST`` (voila-dashboards/voila#1458) and the kernel
   lived on until culled. :class:`LabIdentityProvider` sets Tornado's ``_xsrf`` cookie when
   the app page is loaded, so the request passes the XSRF check unchanged (the protection
   stays on: a cross-site page can neither read nor set this cookie).
3. **Preheated kernels.** Kernels are started with the server and run the notebook up to
   the point where it needs the visitor's URL (``widgets.deeplink`` waits for it with
   Voilà's ``wait_for_request``); a visitor gets one, already showing numbers, and a new one
   is prepared ``fill_delay`` seconds later. The pool holds one kernel per free 4 GiB of
   memory, at most one per CPU core and at most 4 (:func:`pool_size`; each idle kernel holds
   ≈ 0.65 GB): that many visitors arriving together each find one ready; one more waits for
   a refill (≈ 10 s on 2 cores). Override with ``--pool_size=N`` (0 turns preheating off).
4. **Health check.** ``GET /voila/health`` answers ``{"status": "ok", "kernels": N,
   "preheated": P}`` without starting a kernel (``GET /`` renders the app and starts one —
   never point a load balancer or uptime probe at it).
5. **Works offline.** Voilà's ``lab`` template links Font Awesome from cdn.jsdelivr.net (and
   nbconvert's imports mermaid.js from cdnjs); the ``lab-offline`` template in
   ``share/jupyter/nbconvert/templates/`` next to this file drops both (Voilà's own
   ``voila-style.js`` already bundles Font Awesome 5 and serves its fonts). Voilà finds
   templates only in Jupyter data dirs, so that folder is added to ``JUPYTER_PATH`` (under
   ``nbconvert/``: a ``voila/`` folder there would also become Voilà's data dir, its themes).
"""

import os
from pathlib import Path

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async, url_path_join
from voila.handler import VoilaHandler

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

# 1 · idle culling (jupyter_server's MappingKernelManager, which Voilà's kernel manager extends)
c.MappingKernelManager.cull_idle_timeout = 20 * 60  # seconds without kernel activity
c.MappingKernelManager.cull_interval = 60  # seconds between checks
c.MappingKernelManager.cull_connected = True  # also kernels whose tab is still open
c.MappingKernelManager.cull_busy = False  # never a kernel in the middle of a computation

# 3 · preheated kernels (incompatible with progressive rendering and prelaunch hooks)


def pool_size(gib_per_kernel: float = 4.0, most: int = 4) -> int:
    """Preheated kernels per app: one per ``gib_per_kernel`` of available memory, no more
    than the CPU cores (each refill keeps a core busy for seconds) or ``most``; at least 1."""
    try:
        import psutil

        available = psutil.virtual_memory().available / 2**30
    except Exception:  # no psutil, or no memory figure on this system: the safe default
        return 1
    return max(1, min(int(available // gib_per_kernel), os.cpu_count() or 1, most))


c.VoilaConfiguration.preheat_kernel = True
c.VoilaConfiguration.default_pool_size = pool_size()  # per notebook; 0 turns preheating off
c.VoilaKernelManager.fill_delay = 1  # seconds before the pool is refilled after a visit

# a visitor never sees code or tracebacks
c.VoilaConfiguration.show_tracebacks = False

# 5 · no asset from another host: the "lab-offline" template, found through JUPYTER_PATH
# (traitlets defines __file__ for config files; resolved now, so any working directory works)
TEMPLATE_ROOT = str(Path(__file__).resolve().parent / "share" / "jupyter")
_jupyter_path = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
if TEMPLATE_ROOT not in _jupyter_path:
    os.environ["JUPYTER_PATH"] = os.pathsep.join([*_jupyter_path, TEMPLATE_ROOT])
c.VoilaConfiguration.template = "lab-offline"


class HealthHandler(APIHandler):
    """``GET /voila/health``: the server answers; how many kernels run (none is started)."""

    @allow_unauthenticated
    def get(self) -> None:
        manager = self.kernel_manager
        kernels = len(manager.list_kernel_ids())
        pools = getattr(manager, "notebook_data", {}) or {}
        preheated = sum(manager.get_pool_size(name) for name in pools)
        self.finish({"status": "ok", "kernels": kernels, "preheated": preheated})


class LabIdentityProvider(PasswordIdentityProvider):
    """Jupyter's default identity provider, plus the ``_xsrf`` cookie and the health check.

    Loading the app page (a ``VoilaHandler`` GET) reads ``handler.xsrf_token``, which makes
    Tornado set the ``_xsrf`` cookie when the browser has none; Voilà's tab-close request
    then carries a matching ``_xsrf`` field and the kernel is shut down.
    """

    async def get_user(self, handler):
        user = await ensure_async(super().get_user(handler))
        if (
            user is not None
            and isinstance(handler, VoilaHandler)
            and handler.request.method == "GET"
        ):
            handler.current_user = user  # what prepare() sets next; xsrf_token reads it
            handler.xsrf_token  # noqa: B018 - reading the property sets the cookie
        return user

    def get_handlers(self) -> list:
        root = getattr(self.parent, "server_url", None) or "/"
        return [*super().get_handlers(), (url_path_join(root, "/voila/health"), HealthHandler)]


c.Voila.identity_provider_class = LabIdentityProvider
