"""The faceguard service: REST API, operator and DPO pages, and the kiosk (FastAPI).

A thin shell over one ``Faceguard``: ``create_app(fg, settings)`` builds the app;
``faceguard serve`` runs it with Uvicorn. Modules:

- ``app``: the application, middleware (metrics, security headers), OpenAPI with roles;
- ``settings``: ``ServiceSettings`` (documented in ``SETTINGS_DOC``; env ``FACEGUARD_SERVICE_*``);
- ``auth``: every permission check (roles, terminal purposes, TOTP at level 3, throttling);
- ``sessions``: browser sessions and the failed-authentication throttle;
- ``problems``: RFC 9457 problem details with the rule ID; the exception-to-status map;
- ``uploads``: image uploads (multipart or raw), size limits, type sniffing;
- ``schemas``: request (Create) and response (Public) bodies;
- ``routes_*``: the REST API by area; ``pages``, ``pages_keys``, ``pages_kiosk``: the web
  pages and their JSON twins; ``templating``: the Jinja2 environment;
- ``metrics``: the Prometheus text format.
"""

from faceguard.service.app import create_app
from faceguard.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
