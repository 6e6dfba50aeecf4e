"""`docflow config`: validate, show, compare and export environments' configuration bundles.

Operators and CI run `docflow config validate --profile prod` before promoting a bundle;
secrets are checked to resolve but only their references are ever printed. `diff` compares
two environments, directories or exported archives; `export` writes one bundle as a single
JSON archive (files unchanged, secrets as references only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from docflow.config.archive import ArchiveError, BundleArchive, LiteralSecretsError
from docflow.config.bundle import Bundle, BundleError, load_bundle
from docflow.config.diff import diff_bundles, read_bundle_files, render_text
from docflow.settings import PROFILES, config_location

app = typer.Typer(
    name="config",
    help="Configuration bundles (config/<profile>/): validate, show versions, diff, export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        "-p",
        envvar="DOCFLOW_PROFILE",
        help="dev | local | test | prod (default dev).",
        show_default=False,
    ),
]
ConfigDirOption = Annotated[
    Path | None,
    typer.Option(
        "--config-dir",
        envvar="DOCFLOW_CONFIG_DIR",
        help="Directory holding one bundle per profile (default: the checkout's config/).",
        show_default=False,
    ),
]


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command()
def validate(
    profile: ProfileOption = None,
    config_dir: ConfigDirOption = None,
    check_secrets: Annotated[
        bool,
        typer.Option(
            "--check-secrets/--skip-secrets",
            help="Also resolve every secret reference (variables set, files readable).",
        ),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Validate every file of a bundle, its cross-references, its separation from production
    and its secret references. Each problem is printed as `file: field: message`.

    Exit code 0 valid, 1 invalid, 2 usage error (e.g. an unknown profile)."""
    if not as_json:
        bundle = _load(profile, config_dir, check_secrets=check_secrets)
        typer.echo(
            f"{bundle.directory}: valid ({len(bundle.file_versions)} files), "
            f"version {bundle.version}" + ("" if check_secrets else " — secrets not resolved")
        )
        return
    try:
        loaded = load_bundle(profile, config_dir, check_secrets=check_secrets)
    except BundleError as exc:
        problems = [{"file": p.file, "path": p.path, "message": p.message} for p in exc.problems]
        report = {"directory": str(exc.directory), "valid": False, "problems": problems}
        typer.echo(json.dumps(report, indent=2))
        raise typer.Exit(1) from None
    except ValueError as exc:
        _fail(str(exc))
    report = {
        "directory": str(loaded.directory),
        "valid": True,
        "profile": loaded.profile,
        "version": loaded.version,
        "file_versions": loaded.file_versions,
        "secrets_checked": check_secrets,
        "problems": [],
    }
    typer.echo(json.dumps(report, indent=2))


@app.command()
def diff(
    left: Annotated[
        str,
        typer.Argument(help="A profile (dev|local|test|prod), a bundle directory or an archive."),
    ],
    right: Annotated[str, typer.Argument(help="A profile, a bundle directory or an archive file.")],
    config_dir: ConfigDirOption = None,
    include_environment: Annotated[
        bool,
        typer.Option(
            "--include-environment",
            help="Also compare the concerns' `environment` field (left out by default: it "
            "always differs between two environments).",
        ),
    ] = False,
    hide_per_environment: Annotated[
        bool,
        typer.Option(
            "--hide-per-environment",
            help="Leave out differences every two environments have by design (endpoints, "
            "allowed hosts, secret references, hub/client/repository ids, task queue, bucket); "
            "the summary counts them. For reviewing what a promotion changes.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare two bundles file by file and field by field.

    Each side is a profile name (its bundle `<config dir>/<profile>/`), a bundle directory
    (write `./dev` for a directory named like a profile) or an archive from `export`, so two
    environments or two versions of one compare alike. Lists of objects are matched by their
    `id` or `name`. Secrets appear as references only (`env:X`, `file:/p`; a literal as
    `value:<literal>`). The bundles are not validated (use `validate`).

    Exit code 0 when the bundles are the same, 1 when they differ, 2 on error."""
    left_label, left_files = _side(left, config_dir)
    right_label, right_files = _side(right, config_dir)
    result = diff_bundles(
        left_files,
        right_files,
        left_label=left_label,
        right_label=right_label,
        include_environment=include_environment,
        hide_per_environment=hide_per_environment,
    )
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        typer.echo(render_text(result), nl=False)
    raise typer.Exit(0 if result.same else 1)


@app.command()
def export(
    profile: ProfileOption = None,
    config_dir: ConfigDirOption = None,
    out: Annotated[
        str,
        typer.Option("--out", "-o", help="Archive file to write, or - for standard output."),
    ] = "-",
    allow_literals: Annotated[
        bool,
        typer.Option(
            "--allow-literals",
            help="Export a bundle holding literal value: secrets (dev, local) anyway; the "
            "archive then contains them. Without it such a bundle is refused.",
        ),
    ] = False,
    check_secrets: Annotated[
        bool,
        typer.Option(
            "--check-secrets/--skip-secrets",
            help="Record whether each secret reference resolves here (never its value).",
        ),
    ] = True,
) -> None:
    """Write one bundle as a JSON archive: profile, content version, file versions, the files
    unchanged, and every secret reference (with whether it resolves here), never a secret.

    The bundle must validate (its secrets need not resolve on this machine). A bundle with
    literal value: secrets (dev, local) is refused unless --allow-literals, which puts them
    in the archive. At most 64 files and 2 MiB.
    Exit code 0 written, 1 refused (invalid bundle, literals, too large), 2 usage error."""
    try:
        chosen, directory = config_location(profile, config_dir)
    except ValueError as exc:
        _fail(str(exc))
    try:
        archive = BundleArchive.from_directory(
            directory / chosen, allow_literals=allow_literals, check_secrets=check_secrets
        )
    except BundleError as exc:
        _problems(exc)
    except LiteralSecretsError as exc:
        typer.echo(f"error: {exc}; --allow-literals exports a dev bundle anyway", err=True)
        raise typer.Exit(1) from None
    except (ArchiveError, OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    text = archive.to_json()
    if out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(
        f"{out}: {chosen} bundle version {archive.version} ({len(archive.files)} files, "
        f"{len(archive.secret_references)} secret references)",
        err=True,
    )


@app.command()
def show(profile: ProfileOption = None, config_dir: ConfigDirOption = None) -> None:
    """Print the bundle version, each file's version, and the secret references it names."""
    bundle = _load(profile, config_dir, check_secrets=False)
    typer.echo(f"profile    {bundle.profile}")
    typer.echo(f"directory  {bundle.directory}")
    typer.echo(f"version    {bundle.version}")
    typer.echo("files:")
    width = max(len(name) for name in bundle.file_versions)
    for name, version in bundle.file_versions.items():
        concern = bundle.concerns.get(name)
        label = f"  (version label {concern.version})" if concern is not None else ""
        typer.echo(f"  {name:<{width}}  {version}{label}")
    typer.echo("secret references:")
    for filename, path, ref in bundle.secret_references():
        typer.echo(f"  {filename}: {path} = {_reference(ref)}")


def _load(profile: str | None, config_dir: Path | None, *, check_secrets: bool) -> Bundle:
    try:
        return load_bundle(profile, config_dir, check_secrets=check_secrets)
    except BundleError as exc:
        _problems(exc)
    except ValueError as exc:  # an unknown profile name
        _fail(str(exc))


def _problems(exc: BundleError) -> NoReturn:
    typer.echo(f"{exc.directory}: {len(exc.problems)} problem(s)", err=True)
    for problem in exc.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(1)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _side(spec: str, config_dir: Path | None) -> tuple[str, dict[str, str]]:
    """A diff side's label and files: a profile's bundle, a directory or an archive file."""
    if spec in PROFILES:
        _, directory = config_location(spec, config_dir)
        path = directory / spec
        if not path.is_dir():
            _fail(f"{path}: no such directory (see DOCFLOW_CONFIG_DIR)")
    else:
        path = Path(spec)
    try:
        if path.is_dir():
            files = read_bundle_files(path)
            if not files:
                _fail(f"{path}: no bundle files (settings.toml, *.json of the bundle) here")
            return spec, files
        if path.is_file():
            archive = BundleArchive.read(path)
            return f"{spec} ({archive.profile} {archive.version})", archive.to_files()
    except (ArchiveError, OSError, UnicodeDecodeError) as exc:
        _fail(str(exc))
    _fail(f"{spec}: not a profile ({', '.join(PROFILES)}), bundle directory or archive file")


def _reference(ref: str) -> str:
    # A literal (dev only) is the secret itself: show that it is one, not what it is.
    return "value:<literal>" if ref.startswith("value:") else ref
