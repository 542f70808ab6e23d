"""The API benchmark's team deployment: its own PostgreSQL database, a file blob store and a
workspace key, holding one released version and one waiting, and a read-only token.

The set-up runs in-process on the services, as the CLI would (`clearance db upgrade`
itself runs as a command); the server then serves it from another process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "clearance_bench"
ADMIN = "admin@example.com"
AUDITOR = "audrey@example.com"
PEOPLE = {
    "alice@example.com": ["model-risk"],
    "dana@example.com": ["model-risk"],
    "erik@example.com": ["eng-manager"],
    "carol@example.com": ["product-owner"],
    AUDITOR: ["auditor"],
}


@dataclass(frozen=True)
class Deployment:
    """Where a team deployment lives: what `clearance serve` needs in its environment."""

    root: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "CLEARANCE_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}",
            "CLEARANCE_BLOB_URL": (self.root / "blobs").as_uri(),
            "CLEARANCE_WORKSPACE_KEY": str(self.root / "workspace.pem"),
            "CLEARANCE_WORKSPACE": str(self.root / "config"),
        }


def recreate_database() -> None:
    """Drop the bench's own database (never another) and create it empty."""
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def drop_database() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def sessions_opened(database: str) -> int:
    """How many sessions PostgreSQL has opened on `database` so far."""
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (database,)
        ).fetchone()
    return int(row[0]) if row else 0


def new_deployment(root: Path) -> Deployment:
    """A fresh folder with the workspace key; the database is made by `clearance db
    upgrade` with the deployment's environment."""
    from clearance.signing import SigningKey

    root.mkdir(parents=True)
    (root / "blobs").mkdir()
    SigningKey.generate().save(root / "workspace.pem")
    recreate_database()
    return Deployment(root)


def populate(deployment: Deployment, home: Path) -> str:
    """The first administrator, people, version 2.4.0 released and 2.5.0 checked (NO-GO,
    so waiting); returns a read-scoped token of the auditor."""
    from clearance.client.local import LocalClient
    from clearance.services.people import add_person, bootstrap_admin
    from clearance.services.policy import declare_target
    from clearance.services.workspace import Workspace
    from clearance.settings import Settings
    from clearance.signing import SigningKey, b64

    ws = Workspace(Settings.from_env({**deployment.env, "CLEARANCE_HOME": str(home)}))
    try:
        ws.create()  # the schema is there already; this registers the workspace key
        keys = {ADMIN: SigningKey.generate()}
        bootstrap_admin(ws, ADMIN, keys[ADMIN].public_raw)
        admin = LocalClient(ws, keys[ADMIN])
        declare_target(ws, admin.admin_statement("target.declare", {"name": "production"}))
        for name, roles in PEOPLE.items():
            keys[name] = SigningKey.generate()
            args = {"name": name, "roles": roles, "public_key": b64(keys[name].public_raw)}
            add_person(ws, admin.admin_statement("person.add", args))

        def as_(person: str | None) -> LocalClient:
            return LocalClient(ws, keys[person] if person else None)

        project = deployment.root / "project"
        plan = write_plan_folder(project, "2.4.0")
        assert as_(None).check(as_(None).plan(plan)).evaluation.decision == "NO-GO"
        carol = as_("carol@example.com")
        carol.add_evidence(carol.plan(plan), "uat", project / "docs/uat.md", "product-owner", None)
        for person, role in (
            ("dana@example.com", "model-risk"),
            ("erik@example.com", "eng-manager"),
        ):
            me = as_(person)
            me.sign_off(me.plan(plan), role, "approve", "fine")
        admin.release(admin.plan(plan))
        plan = write_plan_folder(project, "2.5.0")
        as_(None).check(as_(None).plan(plan))
        return read_token(ws, admin)
    finally:
        ws.close()


def read_token(ws: Any, admin: Any) -> str:
    from datetime import timedelta

    from clearance.services.tokens import create_token
    from clearance.store.records import to_time

    args = {
        "name": "bench-reader",
        "person": AUDITOR,
        "scopes": ["read"],
        "expires": to_time(ws.clock() + timedelta(days=1)),
    }
    secret: str = create_token(ws, admin.admin_statement("token.create", args)).secret
    return secret


def write_plan_folder(root: Path, version: str) -> Path:
    """A plan of two components with every file it names; returns the plan path."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "models/scorer.bin").write_bytes(f"model weights v{version}\n".encode() * 100)
    (root / "eval").mkdir(exist_ok=True)
    (root / "eval/metrics.json").write_text(json.dumps({"holdout": {"auc": 0.87, "n": 400}}))
    (root / "reports").mkdir(exist_ok=True)
    cases = "".join(f'<testcase classname="t" name="test_{i}" time="0.01"/>' for i in range(12))
    (root / "reports/junit.xml").write_text(
        f'<testsuites><testsuite name="pytest" tests="12" failures="0" errors="0">{cases}'
        "</testsuite></testsuites>"
    )
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs/uat.md").write_text("# User acceptance testing\nAll tasks passed.\n")
    document = {
        "apiVersion": "clearance/v1",
        "kind": "DeploymentPlan",
        "system": {"id": "credit-scoring", "name": "Credit scoring", "owner": "alice@example.com"},
        "release": {"version": version, "source": "staging", "target": "production"},
        "components": [
            {
                "name": "scorer",
                "kind": "model",
                "version": version,
                "artifact": "models/scorer.bin",
            },
            {
                "name": "scoring-api",
                "kind": "software",
                "version": "1.9.3",
                "digest": "sha256:" + "ab" * 32,
            },
        ],
        "environments": {"staging": {}, "production": {}},
        "criteria": [
            {
                "id": "auc",
                "kind": "metric",
                "evidence": "eval/metrics.json",
                "metric": "holdout.auc",
                "op": ">=",
                "threshold": 0.8,
            },
            {"id": "tests", "kind": "tests", "evidence": "reports/junit.xml", "min_tests": 10},
            {"id": "uat", "kind": "evidence", "attested_by": "product-owner"},
            {
                "id": "signoff",
                "kind": "approval",
                "roles": [{"role": "model-risk", "min": 1}, {"role": "eng-manager", "min": 1}],
            },
        ],
    }
    plan = root / "plan.yaml"
    plan.write_text(yaml.safe_dump(document, sort_keys=False))
    return plan
