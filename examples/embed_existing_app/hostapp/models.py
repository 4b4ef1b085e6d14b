"""The host application's own data: an `Account` table that existed before SCIM arrived."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, DateTime, Index, Integer, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Naive UTC, the way this app has always stored times."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Account(db.Model):
    """A person who can log in. `public_id` is the id shown to the outside world (and to SCIM)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    email: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    display_name: Mapped[str | None] = mapped_column(String(200))
    work_email: Mapped[str | None] = mapped_column(String(254))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    external_ref: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Optimistic locking: every UPDATE says "WHERE version = <the version I read>".
    version: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": version}

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return self.password_hash is not None and check_password_hash(self.password_hash, password)


# Emails are logins: unique whatever their case, enforced by the database itself.
Index("ix_account_email_lower", func.lower(Account.__table__.c.email), unique=True)


class ScimToken(db.Model):
    """Bearer tokens of the identity provider, issued with `flask scim token create`. Only the
    SHA-256 of a secret is stored; the secret itself is shown once, when it is issued."""

    __tablename__ = "scim_token"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
