"""One router per resource."""

from api.routes import auth, health, me, users

__all__ = ["auth", "health", "me", "users"]
