"""One environment's configuration as a unit: load `<config dir>/<profile>/`, validate every
file's schema and the cross-references, and compute its content version.

Adding a concern is one schema module (a `ConcernFile` subclass) and one line in `CONCERNS`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from docflow.config.concern import ConcernFile, Concerns
from docflow.config.distribution import ContentDistribution, production_leaks
from docflow.config.ecm_events import EcmEvents, ecm_production_leaks
from docflow.config.ecm_requests import EcmRequests
from docflow.config.master_data import MasterData
from docflow.config.read_access import ReadAccess
from docflow.config.records import Records
from docflow.config.routing import RoutingRules
from docflow.config.separation import separation_problems
from docflow.config.source_systems import SourceSystems
from docflow.config.workspaces import CaseSources, WorkspaceMappings
from docflow.secrets import SecretResolutionError, resolve_secret
from docflow.settings import (
    LENIENT_PROFILES,
    SETTINGS_FILE,
    Settings,
    config_location,
    secret_references,
)

if TYPE_CHECKING:
    from docflow.config.versions import ConfigVersions


@dataclass(frozen=True)
class Concern:
    """A file every bundle has, and the schema it must satisfy."""

    filename: str
    schema: type[ConcernFile]

    @property
    def name(self) -> str:
        return self.filename.removesuffix(".json")


# The registry of concerns: one line per file of a bundle (besides settings.toml).
CONCERNS: tuple[Concern, ...] = (
    Concern("signing-routing.json", RoutingRules),
    Concern("source-systems.json", SourceSystems),
    Concern("workspaces.json", WorkspaceMappings),
    Concern("case-sources.json", CaseSources),
    Concern("content-distribution.json", ContentDistribution),
    Concern("master-data.json", MasterData),
    Concern("ecm-events.json", EcmEvents),
    Concern("ecm-requests.json", EcmRequests),
    Concern("records.json", Records),
    Concern("read-access.json", ReadAccess),
)

C = TypeVar("C", bound=ConcernFile)
# The files a promotion carries and an applied version holds (all but settings.toml).
CONCERN_FILES = frozenset(c.filename for c in CONCERNS)

PRODUCTION = "prod"


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a bundle: which file, which field, what."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class BundleError(Exception):
    """A bundle failed validation; `problems` lists every problem found, not just the first."""

    def __init__(self, directory: Path, problems: list[ConfigProblem]) -> None:
        self.directory = directory
        self.problems = problems
        listed = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"configuration {directory} is invalid: {listed}{more}")


@dataclass(frozen=True)
class Bundle:
    """A validated environment: its settings file, its concerns and their content versions."""

    profile: str
    directory: Path
    settings: Settings
    concerns: dict[str, ConcernFile]
    file_versions: dict[str, str] = field(repr=False)
    version: str
    # The applied configuration version it came from (docflow.config.versions); None: the
    # bundle directory's files.
    applied: int | None = None

    @property
    def label(self) -> str:
        """How logs and audit entries name it: `v3 (4f1c…)` or the content version alone."""
        return f"v{self.applied} ({self.version})" if self.applied else self.version

    def get(self, schema: type[C]) -> C:
        for concern in self.concerns.values():
            if isinstance(concern, schema):
                return concern
        raise KeyError(schema.__name__)

    def secret_references(self) -> Iterator[tuple[str, str, str]]:
        """(file, field path, reference) for every secret the bundle names."""
        for path, ref in secret_references(self.settings):
            yield SETTINGS_FILE, path, ref
        for filename, concern in self.concerns.items():
            for path, ref in secret_references(concern):
                yield filename, path, ref


def concern_texts(directory: Path) -> dict[str, str]:
    """The texts of the concern files in a bundle directory (settings.toml aside): what a
    promotion carries and an applied version holds."""
    return {
        c.filename: (directory / c.filename).read_text()
        for c in CONCERNS
        if (directory / c.filename).exists()
    }


def load_bundle(
    profile: str | None = None,
    config_dir: str | Path | None = None,
    *,
    check_secrets: bool = True,
    concern_files: Mapping[str, str] | None = None,
    applied: int | None = None,
) -> Bundle:
    """Load and validate one environment's bundle; raise BundleError listing every problem.

    `check_secrets` also resolves every secret reference (env variable set, file readable),
    reporting only the reference, never the value. `concern_files` (file name -> text) takes
    the concerns from there instead of the directory (an applied version, a promotion's
    candidate); `settings.toml` always comes from the directory (`applied` labels the result).
    """
    chosen, directory = config_location(profile, config_dir)
    bundle_dir = directory / chosen
    if not bundle_dir.is_dir():
        missing = ConfigProblem(str(bundle_dir), "", "no such directory (see DOCFLOW_CONFIG_DIR)")
        raise BundleError(bundle_dir, [missing])
    problems: list[ConfigProblem] = []
    canonical: dict[str, str] = {}

    settings_data = _read(bundle_dir / SETTINGS_FILE, tomllib.loads, problems)
    settings: Settings | None = None
    if settings_data is not None:
        canonical[SETTINGS_FILE] = _canonical(settings_data)
        # Settings ignore unknown keys (for foreign DOCFLOW_* variables); in the file a typo
        # would silently keep a default, so it is a problem here.
        problems.extend(
            ConfigProblem(SETTINGS_FILE, path, "unknown setting")
            for path in _unknown_keys(Settings, settings_data)
        )
        try:
            # The file alone (no environment variables): what the bundle itself says.
            settings = Settings.model_validate(
                {**settings_data, "profile": chosen, "config_dir": directory}
            )
        except ValidationError as exc:
            problems.extend(_validation_problems(SETTINGS_FILE, exc))

    loaded: dict[type[ConcernFile], ConcernFile] = {}
    by_file: dict[str, ConcernFile] = {}
    for concern in CONCERNS:
        if concern_files is None:
            data = _read(bundle_dir / concern.filename, json.loads, problems)
        else:
            data = _parse(concern.filename, concern_files.get(concern.filename), problems)
        if data is None:
            continue
        canonical[concern.filename] = _canonical(data)
        try:
            model = concern.schema.model_validate(data)
        except ValidationError as exc:
            problems.extend(_validation_problems(concern.filename, exc))
            continue
        if model.environment != chosen:
            problems.append(
                ConfigProblem(
                    concern.filename,
                    "environment",
                    f"is {model.environment!r} but the bundle is {chosen!r}",
                )
            )
        loaded[concern.schema] = model
        by_file[concern.filename] = model

    others = Concerns(loaded)
    for filename, model in by_file.items():
        problems.extend(ConfigProblem(filename, p, m) for p, m in model.references(others))
        problems.extend(_secret_problems(filename, model, strict=chosen not in LENIENT_PROFILES))
    if chosen != PRODUCTION:
        leaks = list(_production_leaks(directory / PRODUCTION, settings, loaded))
        seen = {(p.file, p.path) for p in leaks}
        for file, path, message in separation_problems(
            chosen, directory / PRODUCTION, settings_data, settings, by_file
        ):
            if (file, path) not in seen:
                seen.add((file, path))
                leaks.append(ConfigProblem(file, path, message))
        problems.extend(leaks)
    if check_secrets and settings is not None:
        problems.extend(_resolution_problems(SETTINGS_FILE, secret_references(settings)))
    if check_secrets:
        for filename, model in by_file.items():
            problems.extend(_resolution_problems(filename, secret_references(model)))

    if problems or settings is None:
        raise BundleError(bundle_dir, problems)
    file_versions = {name: _digest(text) for name, text in sorted(canonical.items())}
    return Bundle(
        profile=chosen,
        directory=bundle_dir,
        settings=settings,
        concerns=by_file,
        file_versions=file_versions,
        version=_digest("".join(f"{name}\0{text}\0" for name, text in sorted(canonical.items()))),
        applied=applied,
    )


class BundleReader:
    """The current bundle for activities and the API: loaded once, loaded again when it changes.

    With `versions` (docflow.config.versions, the environment's applied configuration) the
    newest applied version is the bundle, looked up at most every `poll_s` seconds, so a
    promotion reaches every running worker without a restart; an environment with no applied
    version yet runs on its directory's files. Without `versions`, the directory's files,
    reloaded when one of them changes. Secrets are not resolved here; the activity that uses
    one resolves it (and fails then).
    """

    def __init__(
        self,
        profile: str,
        config_dir: Path,
        *,
        versions: ConfigVersions | None = None,
        poll_s: float = 2.0,
    ) -> None:
        self._profile = profile
        self._config_dir = config_dir
        self._versions = versions
        self._poll_s = poll_s
        self._applied: tuple[float, int | None] | None = None  # (looked up at, number)
        self._cached: tuple[tuple[int, ...], Bundle] | None = None

    @property
    def directory(self) -> Path:
        return self._config_dir / self._profile

    async def current(self) -> Bundle:
        """Raise BundleError if the bundle is invalid (an operator must fix it)."""
        applied = await self._applied_number()
        stamp = (*self._stamp(files=applied is None), -2 if applied is None else applied)
        if self._cached is not None and self._cached[0] == stamp:
            return self._cached[1]
        bundle = await asyncio.to_thread(self._load, applied)
        self._cached = (stamp, bundle)
        return bundle

    def _load(self, applied: int | None) -> Bundle:
        files: Mapping[str, str] | None = None
        if applied is not None and self._versions is not None:
            version = self._versions.get(self._profile, applied)
            files = version.files if version is not None else None
        return load_bundle(
            self._profile,
            self._config_dir,
            check_secrets=False,
            concern_files=files,
            applied=applied if files is not None else None,
        )

    async def _applied_number(self) -> int | None:
        if self._versions is None:
            return None
        now = time.monotonic()
        if self._applied is not None and now - self._applied[0] < self._poll_s:
            return self._applied[1]
        number = await asyncio.to_thread(self._versions.current_number, self._profile)
        self._applied = (now, number)
        return number

    def _stamp(self, *, files: bool) -> tuple[int, ...]:
        """Modification times of settings.toml and (`files`) the concerns' files."""
        stamps: list[int] = []
        names = (SETTINGS_FILE, *(c.filename for c in CONCERNS)) if files else (SETTINGS_FILE,)
        for name in names:
            try:
                stamps.append((self.directory / name).stat().st_mtime_ns)
            except OSError:
                stamps.append(-1)
        return tuple(stamps)


# The applied versions this process's readers follow (the worker and the API register their
# database at startup; without one — the CLI, unit tests — readers use the files).
_applied_versions: ConfigVersions | None = None


def follow_applied_versions(versions: ConfigVersions | None) -> None:
    """Make readers made by `bundle_reader()` from now on follow `versions` (None: files)."""
    global _applied_versions
    _applied_versions = versions


def bundle_reader(settings: Settings) -> BundleReader:
    """The reader of this environment's bundle: its applied versions when the process follows
    them (`follow_applied_versions`), else its directory's files."""
    return BundleReader(settings.profile, settings.config_dir, versions=_applied_versions)


# ------------------------------------------------------------------ helpers
def _production_leaks(
    prod_dir: Path, settings: Settings | None, loaded: dict[type[ConcernFile], ConcernFile]
) -> Iterator[ConfigProblem]:
    """A non-production bundle naming production's Amplience hub or a production target
    (read from the `prod` bundle beside it, when there is one)."""
    yield from _ecm_leaks(prod_dir, loaded)
    filename = "content-distribution.json"
    candidate = loaded.get(ContentDistribution)
    try:
        production = ContentDistribution.load(prod_dir / filename)
    except (OSError, ValueError):
        return  # no readable production bundle here: nothing to compare with
    if isinstance(candidate, ContentDistribution):
        for path, message in production_leaks(candidate, production):
            yield ConfigProblem(filename, path, message)
    prod_settings = prod_dir / SETTINGS_FILE
    if settings is None or not settings.amplience.hub_id or not prod_settings.exists():
        return
    try:
        prod_hub = tomllib.loads(prod_settings.read_text()).get("amplience", {}).get("hub_id")
    except (OSError, tomllib.TOMLDecodeError):
        return
    if prod_hub and prod_hub == settings.amplience.hub_id:
        yield ConfigProblem(
            SETTINGS_FILE,
            "amplience.hub_id",
            f"is production's hub {prod_hub!r}: only the prod bundle may use it",
        )


def _ecm_leaks(
    prod_dir: Path, loaded: dict[type[ConcernFile], ConcernFile]
) -> Iterator[ConfigProblem]:
    filename = "ecm-events.json"
    candidate = loaded.get(EcmEvents)
    try:
        production = EcmEvents.load(prod_dir / filename)
    except (OSError, ValueError):
        return
    if isinstance(candidate, EcmEvents):
        for path, message in ecm_production_leaks(candidate, production):
            yield ConfigProblem(filename, path, message)


def _read(path: Path, parse: Any, problems: list[ConfigProblem]) -> Any:
    try:
        return parse(path.read_text())
    except FileNotFoundError:
        problems.append(ConfigProblem(path.name, "", "missing"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(path.name, "", f"cannot be read: {exc}"))
    except (ValueError, tomllib.TOMLDecodeError) as exc:  # JSONDecodeError is a ValueError
        problems.append(ConfigProblem(path.name, "", f"is not valid: {exc}"))
    return None


def _parse(name: str, text: str | None, problems: list[ConfigProblem]) -> Any:
    if text is None:
        problems.append(ConfigProblem(name, "", "missing"))
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        problems.append(ConfigProblem(name, "", f"is not valid: {exc}"))
    return None


def _unknown_keys(model: type[BaseModel], data: Any, prefix: str = "") -> Iterator[str]:
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            yield f"{prefix}{key}"
            continue
        nested = _model_of(field.annotation)
        if nested is None:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from _unknown_keys(nested, item, f"{prefix}{key}[{index}].")
        else:
            yield from _unknown_keys(nested, value, f"{prefix}{key}.")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, directly, in a list, or optional."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _validation_problems(filename: str, exc: ValidationError) -> Iterator[ConfigProblem]:
    for error in exc.errors(include_url=False, include_input=False):
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        yield ConfigProblem(filename, path, error["msg"].removeprefix("Value error, "))


def _secret_problems(filename: str, model: BaseModel, *, strict: bool) -> Iterator[ConfigProblem]:
    if not strict:
        return
    for path, ref in secret_references(model):
        if ref.startswith("value:"):
            yield ConfigProblem(
                filename, path, "literal value: secrets are refused here; use env: or file:"
            )


def _resolution_problems(filename: str, refs: Iterable[tuple[str, str]]) -> Iterator[ConfigProblem]:
    for path, ref in refs:
        try:
            resolve_secret(ref)
        except SecretResolutionError as exc:
            # The message names the variable or file, never a value.
            yield ConfigProblem(filename, path, f"secret does not resolve: {exc}")


def _canonical(data: Any) -> str:
    """Formatting and key order do not change a version; content does."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
