"""The admin console: server-rendered pages over the admin service, for people rather than scripts.

Served under SCIM_ADMIN_URL_PREFIX + "/console" whenever the admin API is on. It shows
tenants, their tokens and health, and the provisioning log, and does what the admin API does
(issue, rotate, revoke, disable, enable, delete), each as a form with a CSRF token.
"""

from .blueprint import make_console_blueprint

__all__ = ["make_console_blueprint"]
