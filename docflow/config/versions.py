"""Applied configuration versions: what each environment's workers and API run on.

An environment's concerns (routing rules, mappings, targets, subscriptions, access — every
bundle file but `settings.toml`) are applied as numbered, append-only versions in docflow's
database (the read model's: SQLite embedded, PostgreSQL in production), so every worker and
API replica of the environment sees the same version, and a new one atomically:

- `apply()` inserts version N+1 in one transaction, only if the environment is still on the
  version the change was validated against (`expected`), and at most once per change id
  (a retried activity gets the version it already applied);
- `rollback()` applies again the files of the version the current one replaced;
- `BundleReader` (docflow.config.bundle) picks the newest version up within seconds, without
  a restart. An environment with no applied version runs on its bundle directory's files.

`settings.toml` (endpoints, credential references, namespace, task queue) is deployment
configuration: it stays a file of each environment, changed by a deploy and a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from docflow.records.schema import config_versions
from docflow.records.store import RecordStore

ChangeKind = Literal["initial", "promotion", "rollback"]
ADVISORY_LOCK = 0x646F63666C6F77  # "docflow" — serialises applies on PostgreSQL


@dataclass(frozen=True)
class AppliedVersion:
    environment: str
    number: int
    content_version: str
    files: dict[str, str]
    kind: str
    change_id: str
    source: str
    proposer: str
    approver: str
    replaces: int | None
    summary: str
    applied_at: datetime


class VersionConflict(Exception):
    """The environment moved on since the change was validated: validate it again."""

    def __init__(self, environment: str, expected: int | None, current: int | None) -> None:
        self.expected, self.current = expected, current
        super().__init__(
            f"{environment} is on configuration version {current or 'files'} now, not "
            f"{expected or 'files'} as when this change was validated; propose it again"
        )


class NothingToRollBack(Exception):
    """No applied version, or the current one replaced none."""


class ConfigVersions:
    """The `config_versions` table of a (migrated) docflow database."""

    def __init__(self, store: RecordStore | Callable[[], RecordStore]) -> None:
        # A callable opens the store on first use (the API opens its database lazily).
        self._open = store if callable(store) else (lambda: store)

    @property
    def _store(self) -> RecordStore:
        return self._open()

    # ------------------------------------------------------------ reading
    def current_number(self, environment: str) -> int | None:
        with self._store.engine.connect() as connection:
            number = connection.execute(
                select(func.max(config_versions.c.number)).where(
                    config_versions.c.environment == environment
                )
            ).scalar()
        return int(number) if number is not None else None

    def get(self, environment: str, number: int) -> AppliedVersion | None:
        with self._store.engine.connect() as connection:
            row = connection.execute(
                select(config_versions).where(
                    config_versions.c.environment == environment,
                    config_versions.c.number == number,
                )
            ).first()
        return _version(row) if row is not None else None

    def current(self, environment: str) -> AppliedVersion | None:
        number = self.current_number(environment)
        return None if number is None else self.get(environment, number)

    def by_change(self, environment: str, change_id: str) -> AppliedVersion | None:
        with self._store.engine.connect() as connection:
            row = connection.execute(
                select(config_versions).where(
                    config_versions.c.environment == environment,
                    config_versions.c.change_id == change_id,
                )
            ).first()
        return _version(row) if row is not None else None

    def history(self, environment: str, *, limit: int = 50) -> list[AppliedVersion]:
        """The newest versions first (files included)."""
        with self._store.engine.connect() as connection:
            rows = connection.execute(
                select(config_versions)
                .where(config_versions.c.environment == environment)
                .order_by(config_versions.c.number.desc())
                .limit(max(1, min(limit, 1000)))
            ).all()
        return [_version(row) for row in rows]

    # ------------------------------------------------------------ writing
    def apply(
        self,
        environment: str,
        files: Mapping[str, str],
        *,
        content_version: str,
        change_id: str,
        kind: ChangeKind,
        expected: int | None,
        source: str = "",
        proposer: str = "",
        approver: str = "",
        summary: str = "",
        now: datetime | None = None,
    ) -> AppliedVersion:
        """Apply `files` as the environment's next version, atomically.

        Idempotent per `change_id`: applying the same change again returns the version it
        became. Raises VersionConflict when the environment is no longer on `expected`
        (None: no version applied yet, running on its files).
        """
        if (done := self.by_change(environment, change_id)) is not None:
            return done
        applied_at = now or datetime.now(UTC)
        try:
            with self._store.writing() as connection:
                if self._store.dialect == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
                current = connection.execute(
                    select(func.max(config_versions.c.number)).where(
                        config_versions.c.environment == environment
                    )
                ).scalar()
                if current != expected:
                    raise VersionConflict(environment, expected, current)
                number = (current or 0) + 1
                connection.execute(
                    config_versions.insert().values(
                        environment=environment,
                        number=number,
                        content_version=content_version,
                        files=dict(files),
                        kind=kind,
                        change_id=change_id,
                        source=source[:255],
                        proposer=proposer[:255],
                        approver=approver[:255],
                        replaces=current,
                        summary=summary,
                        applied_at=applied_at,
                    )
                )
        except IntegrityError:
            # A concurrent apply of the same change won the race: it is applied.
            if (done := self.by_change(environment, change_id)) is not None:
                return done
            raise
        applied = self.get(environment, number)
        assert applied is not None
        return applied

    def rollback_target(self, environment: str) -> tuple[AppliedVersion, AppliedVersion | None]:
        """(current, the version it replaced) — what a rollback restores; None: the first
        applied version replaced the bundle directory's files."""
        current = self.current(environment)
        if current is None:
            raise NothingToRollBack(
                f"{environment} runs on its bundle's files: no applied version to roll back"
            )
        if current.replaces is None:
            return current, None
        previous = self.get(environment, current.replaces)
        assert previous is not None
        return current, previous


def _version(row: object) -> AppliedVersion:
    values = row._mapping  # type: ignore[attr-defined]
    return AppliedVersion(**{name: values[name] for name in AppliedVersion.__dataclass_fields__})
