"""``cadence serve``: the reports as a web app behind the company's OpenID Connect sign-in."""

from __future__ import annotations

import click

from cadence.cli.app import App, common_options, pass_app
from cadence.config import Config, parse_bind
from cadence.errors import ConfigError


def _secrets(config: Config) -> tuple[bytes, str]:
    serve = config.serve
    if not serve.oidc.issuer or not serve.oidc.client_id:
        where = config.path or "the configuration"
        raise ConfigError(f"{where}: [serve.oidc] issuer and client_id are required to serve")
    session_key = config.secret("serve", "session_secret_env", serve.session_secret_env)
    if len(session_key) < 32:
        raise ConfigError(
            f"${serve.session_secret_env} must hold at least 32 characters (it signs the cookies)"
        )
    client_secret = config.secret("serve.oidc", "client_secret_env", serve.oidc.client_secret_env)
    return session_key.encode(), client_secret


@click.command("serve")
@click.option("--bind", "bind_to", metavar="HOST:PORT", help="Where to listen ([serve] bind).")
@common_options
@pass_app
def serve_command(app: App, bind_to: str | None) -> None:
    """Serve every manager's and director's report to the person it is for, behind the
    company's single sign-on ([serve] and [serve.oidc] in the config).

    Pages show the figures `cadence report all` and `cadence nightly` saved for each week.
    Run it behind a reverse proxy that terminates TLS (docs/serve.md).

    \b
    Examples:
      CADENCE_SESSION_SECRET=... CADENCE_OIDC_SECRET=... cadence serve
      cadence serve --bind 0.0.0.0:8080
    """
    from dataclasses import replace

    from cadence.web.app import create_app
    from cadence.web.server import bind, log_to_stderr, serve_forever

    config = app.config
    if bind_to:
        try:
            parse_bind(bind_to)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--bind") from exc
        config = replace(config, serve=replace(config.serve, bind=bind_to))
    session_key, client_secret = _secrets(config)
    host, port = config.serve.host_port
    sock = bind(host, port)
    web = create_app(config, app.store, session_key=session_key, client_secret=client_secret)
    log_to_stderr()
    app.info(f"cadence serves {config.serve.public_url} (listening on {host}:{port})")
    serve_forever(web, sock)
