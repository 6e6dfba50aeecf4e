"""`docflow config`: validate an environment's configuration bundle and show its versions.

Operators and CI run `docflow config validate --profile prod` before promoting a bundle;
secrets are checked to resolve but only their references are ever printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from docflow.config.bundle import Bundle, BundleError, load_bundle

app = typer.Typer(
    name="config",
    help="Configuration bundles (config/<profile>/): validate and show versions.",
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
) -> None:
    """Validate every file of a bundle, its cross-references and its secret references."""
    bundle = _load(profile, config_dir, check_secrets=check_secrets)
    typer.echo(
        f"{bundle.directory}: valid ({len(bundle.file_versions)} files), version {bundle.version}"
        + ("" if check_secrets else " — secrets not resolved")
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
        typer.echo(f"{exc.directory}: {len(exc.problems)} problem(s)", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:  # an unknown profile name
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _reference(ref: str) -> str:
    # A literal (dev only) is the secret itself: show that it is one, not what it is.
    return "value:<literal>" if ref.startswith("value:") else ref
