"""Operating scimflask as a service: the admin API and the service layer the CLI shares."""

from .service import AdminError, AdminService, IssuedToken

__all__ = ["AdminError", "AdminService", "IssuedToken"]
