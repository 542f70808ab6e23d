"""A stand-in for the `clearance` command, for testing the demo's story without the CLI:
it logs each call, writes a manifest for `env capture`, and answers `check` with NO-GO
until the UAT report and both sign-offs were recorded."""

import json
import os
import platform
import sys
from pathlib import Path


def main(args: list[str]) -> int:
    workspace = Path(os.environ["CLEARANCE_WORKSPACE"])
    workspace.mkdir(parents=True, exist_ok=True)
    log = workspace / "calls.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    with log.open("a") as f:
        f.write(json.dumps({"args": args, "user": os.environ.get("CLEARANCE_USER")}) + "\n")
    fail = os.environ.get("FAKE_CLEARANCE_FAIL")
    if fail and " ".join(args).startswith(fail):
        print(f"error: {fail} failed on purpose")
        return 3
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
        done = {c["args"][0] for c in calls} & {"evidence", "approve"}
        approvals = sum(1 for c in calls if c["args"][0] == "approve")
        if done == {"evidence", "approve"} and approvals >= 2:
            print("GO")
            return 0
        print("NO-GO: uat pending (no evidence attached); signoff pending (0 of 2 roles)")
        return 1
    print("ok: " + " ".join(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
