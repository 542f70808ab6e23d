"""`clearance webhooks …`: outbound webhook subscriptions, their deliveries (dead letters
included), and a one-shot delivery run. Inbound change webhooks need no command: the
server takes them at /api/v1/hooks/changes/{servicenow,jira} (docs/webhooks.md)."""

from __future__ import annotations

import json

import click

from clearance.cli.output import console, key_option, local_client, workspace


@click.group()
def webhooks() -> None:
    """Notify chat and other systems of sign-offs waiting, decisions, releases and revoked
    attestations: signed HTTP POSTs, retried with backoff, dead letters kept."""


@webhooks.command()
@click.argument("url")
@click.option(
    "--events",
    "events",
    multiple=True,
    metavar="EVENTS",
    help="signoff.waiting, decision, release, attestation.revoked (repeat or comma-separate; "
    "default: all).",
)
@click.option(
    "--secret-env",
    required=True,
    metavar="VAR",
    help="The environment variable holding the signing secret in the delivering process.",
)
@key_option
@click.pass_context
def add(
    ctx: click.Context, url: str, events: tuple[str, ...], secret_env: str, key_file: str | None
) -> None:
    """Subscribe URL to events (administrators only). Only loopback URLs and hosts listed in
    CLEARANCE_WEBHOOK_HOSTS are accepted.

    \b
    Example:
      CLEARANCE_WEBHOOK_HOSTS=hooks.slack.com clearance webhooks add \\
        https://hooks.slack.com/services/T000/B000/XXXX --events decision,release \\
        --secret-env CLEARANCE_SLACK_SECRET
    """
    from clearance.services.webhooks import add_subscription

    me = local_client(ctx, key_file)
    args = {"url": url, "events": list(events), "secret_env": secret_env}
    made = add_subscription(workspace(ctx), me.admin_statement("webhook.add", args))
    console().print(
        f"Subscribed {made.url} (subscription {made.id}) to {', '.join(made.events)}; "
        f"deliveries are signed with ${made.secret_env}, which the server must have set."
    )


@webhooks.command()
@click.argument("subscription_id", metavar="ID", type=int)
@key_option
@click.pass_context
def remove(ctx: click.Context, subscription_id: int, key_file: str | None) -> None:
    """Stop subscription ID (administrators only); its undelivered events go dead.

    \b
    Example:
      clearance webhooks remove 3
    """
    from clearance.services.webhooks import remove_subscription

    me = local_client(ctx, key_file)
    gone = remove_subscription(
        workspace(ctx), me.admin_statement("webhook.remove", {"id": subscription_id})
    )
    console().print(f"Removed subscription {subscription_id} ({gone.url}).")


@webhooks.command("list")
@click.option("--state", type=click.Choice(["pending", "delivered", "dead"]), default=None)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@key_option
@click.pass_context
def list_(ctx: click.Context, state: str | None, fmt: str, key_file: str | None) -> None:
    """Subscriptions and the newest deliveries; dead letters are those that ran out of
    retries (administrators only).

    \b
    Example:
      clearance webhooks list --state dead
    """
    from rich.table import Table

    from clearance.services.webhooks import overview
    from clearance.store.records import to_time

    me = local_client(ctx, key_file)
    seen = overview(workspace(ctx), me.principal("webhooks.list", required=True), state)
    if fmt == "json":
        rows = [
            {
                "event_id": r.event_id,
                "event": r.event,
                "subscription": r.subscription,
                "url": r.url,
                "state": r.state,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "created_at": to_time(r.created_at),
            }
            for r in seen.deliveries
        ]
        subs = [{"key": s.key, "url": s.url, "events": list(s.events)} for s in seen.subscriptions]
        click.echo(json.dumps({"subscriptions": subs, "counts": seen.counts, "deliveries": rows}))
        return
    out = console()
    subs_table = Table(title="Webhook subscriptions")
    for column in ("Id", "URL", "Events", "Secret from", "State"):
        subs_table.add_column(column)
    for s in seen.subscriptions:
        subs_table.add_row(
            s.key, s.url, ", ".join(s.events), s.secret_env, "removed" if s.removed else "active"
        )
    out.print(subs_table if seen.subscriptions else "No webhook subscriptions.")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(seen.counts.items())) or "none yet"
    out.print(f"Deliveries: {counts}.")
    if not seen.deliveries:
        return
    table = Table(title="Deliveries, newest first")
    for column in ("Event id", "Event", "To", "State", "Attempts", "Last error"):
        table.add_column(column)
    for r in seen.deliveries:
        style = "bold red" if r.state == "dead" else "green" if r.state == "delivered" else ""
        table.add_row(
            r.event_id[:12],
            r.event,
            r.subscription,
            f"[{style}]{r.state}[/]" if style else r.state,
            str(r.attempts),
            r.last_error or "",
        )
    out.print(table)


@webhooks.command()
@click.pass_context
def deliver(ctx: click.Context) -> None:
    """Deliver every due webhook once now (`clearance serve` does this in the background).

    \b
    Example:
      CLEARANCE_SLACK_SECRET=… clearance webhooks deliver
    """
    from clearance.services.delivery import deliver_due

    done = deliver_due(workspace(ctx))
    console().print(
        f"Delivered {done.delivered}, {done.retried} to retry later, {done.dead} dead "
        "(see `clearance webhooks list --state dead`)."
    )
    for error in done.errors:
        console(stderr=True).print(f"dead: {error}")
