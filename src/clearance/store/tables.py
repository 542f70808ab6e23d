"""Tables of the workspace database. Records are insert-only; triggers refuse the rest."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

Digest = sa.String(71)
Time = sa.String(32)  # ISO 8601 UTC, fixed width, sorts as text

systems = sa.Table(
    "systems",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

revisions = sa.Table(
    "plan_revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", Digest, nullable=False, unique=True),
    sa.Column("system_id", sa.String(64), sa.ForeignKey("systems.id"), nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_plan_revisions_system", "system_id", "id"),
)

candidates = sa.Table(
    "candidates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", Digest, nullable=False, unique=True),
    sa.Column("revision", Digest, sa.ForeignKey("plan_revisions.digest"), nullable=False),
    sa.Column("system_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("components", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

evidence = sa.Table(
    "evidence",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("candidate", Digest, sa.ForeignKey("candidates.digest"), nullable=False),
    sa.Column("system_id", sa.String(64), nullable=False),
    sa.Column("criterion_id", sa.String(64), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("digest", Digest, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("added_by", sa.Text, nullable=False),
    sa.Column("role", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("added_at", Time, nullable=False),
    sa.Column("envelope", sa.Text),
    sa.Index("ix_evidence_candidate", "candidate", "criterion_id"),
)

# Evidence under blobs.tiered.SMALL_BLOB_BYTES, by content digest, written in the transaction
# of its record. Content-addressed like the blob store (verify re-hashes it), so its rows are
# not log records; insert-only all the same (migration 0008 adds the triggers).
small_blobs = sa.Table(
    "small_blobs",
    metadata,
    sa.Column("digest", Digest, primary_key=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("candidate", Digest, sa.ForeignKey("candidates.digest"), nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("person", sa.Text, nullable=False),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("identity", sa.Text),
    sa.Column("evidence_set", Digest),
    sa.Column("envelope", sa.Text),
    sa.Index("ix_approvals_release", "system_id", "version"),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("candidate", Digest, sa.ForeignKey("candidates.digest"), nullable=False),
    sa.Column("system_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(8), nullable=False),
    sa.Column("results", sa.Text, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("evaluator_version", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("evaluated_at", Time, nullable=False),
    sa.Column("policy", Digest),
    sa.Index("ix_decisions_candidate", "candidate", "id"),
)

releases = sa.Table(
    "releases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("candidate", Digest, sa.ForeignKey("candidates.digest"), nullable=False),
    sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id"), nullable=False),
    sa.Column("system_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("components", sa.Text, nullable=False),
    sa.Column("released_by", sa.Text, nullable=False),
    sa.Column("released_at", Time, nullable=False),
    sa.Index("ix_releases_target", "system_id", "target", "id"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Time, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("system_id", sa.String(64)),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("entry", sa.Text, nullable=False),
    sa.Column("leaf_hash", sa.String(64), nullable=False),
    sa.Index("ix_events_system", "system_id", "seq"),
    sa.Index("ix_events_subject", "subject"),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("size", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("root", sa.String(64), nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Column("key_id", Digest, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("frontier", sa.Text, nullable=False),
)

#: the log's Merkle tree levels: the root of every complete subtree above the leaves (level
#: L, position p covers events p * 2**L + 1 .. (p + 1) * 2**L); a cache of the leaves that
#: `log verify` recomputes, written with each event so proofs read O(log n) rows
log_nodes = sa.Table(
    "log_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,  # clustered on (level, position): one search per node
)

keys = sa.Table(
    "keys",
    metadata,
    sa.Column("key_id", Digest, primary_key=True),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("public_key", sa.Text, nullable=False),
    sa.Column("valid_from", Time, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

people = sa.Table(
    "people",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("identity", sa.String(200), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("kind", sa.String(16)),  # NULL: a person; "service": a service account
)

role_grants = sa.Table(
    "role_grants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("system_id", sa.String(64)),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Index("ix_role_grants_person", "person"),
)

person_keys = sa.Table(
    "person_keys",
    metadata,
    sa.Column("key_id", Digest, primary_key=True),
    sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
    sa.Column("public_key", sa.Text, nullable=False),
    sa.Column("valid_from", Time, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

key_retirements = sa.Table(
    "key_retirements",
    metadata,
    sa.Column("key_id", Digest, sa.ForeignKey("person_keys.key_id"), primary_key=True),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("at", Time, nullable=False),
)

waivers = sa.Table(
    "waivers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("candidate", Digest, sa.ForeignKey("candidates.digest"), nullable=False),
    sa.Column("system_id", sa.String(64), nullable=False),
    sa.Column("criterion_id", sa.String(64), nullable=False),
    sa.Column("person", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_waivers_candidate", "candidate"),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", Digest, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

attestations = sa.Table(
    "attestations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id"), nullable=False),
    sa.Column("candidate", Digest, nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_attestations_candidate", "candidate"),
)

admin_statements = sa.Table(
    "admin_statements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

targets = sa.Table(
    "targets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("declared_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

#: signed revocations of release attestations (0009): by `attestation revoke`, a rollback,
#: or a later NO-GO of the same candidate
attestation_revocations = sa.Table(
    "attestation_revocations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("candidate", Digest, nullable=False),
    sa.Column("system_id", sa.String(64), nullable=False),
    sa.Column("target", sa.String(64), nullable=False),
    sa.Column("attestations", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("revoked_by", sa.Text, nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_attestation_revocations_candidate", "candidate"),
)

waiver_revocations = sa.Table(
    "waiver_revocations",
    metadata,
    sa.Column("waiver_id", sa.Integer, sa.ForeignKey("waivers.id"), primary_key=True),
    sa.Column("person", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
)

token_revocations = sa.Table(
    "token_revocations",
    metadata,
    sa.Column("token_id", sa.Integer, sa.ForeignKey("api_tokens.id"), primary_key=True),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("at", Time, nullable=False),
)

idempotent_responses = sa.Table(
    "idempotent_responses",
    metadata,
    sa.Column("caller", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request", Digest, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

finding_acceptances = sa.Table(
    "finding_acceptances",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("candidate", Digest, sa.ForeignKey("candidates.digest"), nullable=False),
    sa.Column("system_id", sa.String(64), nullable=False),
    sa.Column("criterion_id", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("finding", sa.Text, nullable=False),
    sa.Column("place", sa.Text, nullable=False),
    sa.Column("person", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_finding_acceptances_candidate", "candidate"),
)

acknowledgements = sa.Table(
    "acknowledgements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("candidate", Digest, sa.ForeignKey("candidates.digest"), nullable=False),
    sa.Column("system_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("party", sa.Text, nullable=False),
    sa.Column("party_digest", Digest, nullable=False),
    sa.Column("person", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_acknowledgements_release", "system_id", "version"),
)

# sign-in: password hashes (the newest row of a person wins), OpenID Connect subjects linked
# to people, and browser sessions (stored by the SHA-256 of their id; ended by inserting a row)
passwords = sa.Table(
    "passwords",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.Column("set_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Index("ix_passwords_person", "person", "id"),
)

oidc_links = sa.Table(
    "oidc_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("issuer", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.UniqueConstraint("issuer", "subject", name="uq_oidc_links_subject"),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_hash", Digest, nullable=False, unique=True),
    sa.Column("person", sa.String(200), sa.ForeignKey("people.name"), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
)

web_session_ends = sa.Table(
    "web_session_ends",
    metadata,
    sa.Column("session_id", sa.Integer, sa.ForeignKey("web_sessions.id"), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", Time, nullable=False),
)

# reviewer links: stored by the SHA-256 of their token only; revoked by inserting a row
share_links = sa.Table(
    "share_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("releases", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
)

share_revocations = sa.Table(
    "share_revocations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("link_id", sa.Integer, sa.ForeignKey("share_links.id"), nullable=False, unique=True),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("at", Time, nullable=False),
)

# change tickets as their systems reported them through signed inbound webhooks
change_ticket_states = sa.Table(
    "change_ticket_states",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("ticket", sa.String(64), nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("delivery", sa.String(200), nullable=False),
    sa.Column("payload_digest", Digest, nullable=False),
    sa.Column("sent_at", Time, nullable=False),
    sa.Column("received_at", Time, nullable=False),
    sa.UniqueConstraint("source", "delivery", name="uq_change_ticket_states_delivery"),
    sa.Index("ix_change_ticket_states_ticket", "ticket", "id"),
)

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", sa.Text, nullable=False),
    sa.Column("secret_env", sa.String(128), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

webhook_removals = sa.Table(
    "webhook_removals",
    metadata,
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("webhook_subscriptions.id"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("at", Time, nullable=False),
)

# The outbox: one row per (event, subscription), inserted in the transaction of the event.
# Its delivery state (state, attempts, next_attempt_at, claim, last_error, delivered_at) is
# the one thing updated in place; every attempt is also kept, insert-only, below.
webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("subscription", sa.String(80), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret_env", sa.String(128), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Time, nullable=False),
    sa.Column("claim", sa.String(32)),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", Time),
    sa.UniqueConstraint("event_id", "subscription", name="uq_webhook_outbox_event"),
    sa.Index("ix_webhook_outbox_due", "state", "next_attempt_at"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", sa.Integer, sa.ForeignKey("webhook_outbox.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(12), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("at", Time, nullable=False),
    sa.Index("ix_webhook_attempts_outbox", "outbox_id"),
)

#: tables whose rows are records: no UPDATE or DELETE is ever allowed on them
INSERT_ONLY = (
    "systems",
    "plan_revisions",
    "candidates",
    "evidence",
    "approvals",
    "decisions",
    "releases",
    "events",
    "checkpoints",
    "log_nodes",
    "keys",
    "people",
    "role_grants",
    "person_keys",
    "key_retirements",
    "waivers",
    "policies",
    "attestations",
    "admin_statements",
    "targets",
    "waiver_revocations",
    "api_tokens",
    "token_revocations",
    "idempotent_responses",
    "finding_acceptances",
    "acknowledgements",
    "passwords",  # sign-in
    "oidc_links",
    "web_sessions",
    "web_session_ends",
    "share_links",  # reviewer links
    "share_revocations",
    "change_ticket_states",  # webhooks (0010); webhook_attempts is insert-only but unlogged
    "webhook_subscriptions",
    "webhook_removals",
    "attestation_revocations",  # attestation scope (0009)
)
