"""A stand-in for the `clearance` command, for testing the demo's story without the CLI:
it logs each call, writes the files `env capture`, `keys generate`, `keys workspace` and
`attestation export` would, answers `check` with NO-GO until the UAT report, the accepted
finding, the acknowledgement and both sign-offs were recorded, and refuses what the real
command refuses: evidence, sign-offs, acceptances and acknowledgements without `--identity`
(77), sign-offs not preceded by a check of the evidence as it stands, and verifying without
a key to trust (2)."""

import json
import os
import platform
import sys
from pathlib import Path

SIGNED = {"evidence", "approve", "reject", "finding", "acknowledge"}
#: what `check` waits for before it answers GO
NEEDED = {"evidence", "approve", "finding", "acknowledge"}
#: calls after which the evidence a sign-off is bound to must be checked again
CHANGES = {"plan submit", "evidence add"}


def command(args: list[str]) -> tuple[list[str], str | None]:
    """The arguments after the global `--identity KEY` option, and that key."""
    if args[:1] == ["--identity"]:
        return args[2:], args[1]
    return args, None


def name(args: list[str]) -> str:
    return " ".join(args[:2]) if args[0] in ("plan", "evidence") else args[0]


def main(argv: list[str]) -> int:
    workspace = Path(os.environ["CLEARANCE_WORKSPACE"])
    workspace.mkdir(parents=True, exist_ok=True)
    log = workspace / "calls.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    args, identity = command(argv)
    with log.open("a") as f:
        record = {"args": argv, "user": os.environ.get("CLEARANCE_USER"), "identity": identity}
        f.write(json.dumps(record) + "\n")
    fail = os.environ.get("FAKE_CLEARANCE_FAIL")
    if fail and " ".join(args).startswith(fail):
        print(f"error: {fail} failed on purpose")
        return 3
    if args[0] in SIGNED and identity is None:
        print(f"error: {args[0]} needs a signed identity: pass --identity KEY")
        return 77
    if args[0] in ("approve", "reject"):
        since = [name(command(c["args"])[0]) for c in calls]
        changed = max((i for i, n in enumerate(since) if n in CHANGES), default=-1)
        if "check" not in since[changed + 1 :]:
            print("error: the evidence changed since the last check; run `clearance check`")
            return 2
    if args[:2] in (["pack", "verify"], ["attestation", "verify"]) and "--key" not in args:
        print("error: give --key: the pack's own keys prove nothing about who made it")
        return 2
    if args[:2] == ["env", "capture"]:
        manifest = {
            "name": args[2],
            "hosting": "unknown",
            "runtime": {"python": platform.python_version(), "os": "linux"},
            "packages": {"scikit-learn": "1.0", "numpy": "2.0"},
        }
        Path(args[args.index("-o") + 1]).write_text(json.dumps(manifest))
        print(f"captured {args[2]}")
        return 0
    if args[:2] in (["keys", "generate"], ["keys", "workspace"]):
        out = Path(args[args.index("-o") + 1])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("fake key\n")
        if args[1] == "generate":
            out.with_name(out.name + ".pub").write_text("fake public key\n")
        print(f"wrote {out}")
        return 0
    if args[:2] == ["attestation", "export"]:
        envelope = {
            "payload": "",
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"keyid": "k", "sig": "AAAA"}],
        }
        Path(args[args.index("-o") + 1]).write_text(json.dumps(envelope))
        return 0
    if args[:2] == ["attestation", "verify"] and "tampered" in args[2]:
        print("error: signature does not verify")
        return 3
    if args[0] == "check":
        done = {command(c["args"])[0][0] for c in calls} & NEEDED
        approvals = sum(1 for c in calls if command(c["args"])[0][0] == "approve")
        if done == NEEDED and approvals >= 2:
            print("GO")
            return 0
        print("NO-GO: uat pending (no evidence attached); signoff pending (0 of 2 roles)")
        return 1
    print("ok: " + " ".join(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
