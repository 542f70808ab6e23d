"""VERIFY.md's procedure works as written: its shell blocks run with the real `sha256sum` and
`openssl` on an extracted pack, its Python runs with the standard library alone, and each
check fails on a pack altered in the way it guards against."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.exports.packdoc import SUMS, VERIFY, sha256sums
from clearance.signing.statements import public_key_pem
from tests.exports.packfiles import Extracted, released_pack_with_packages

BLOCK = re.compile(r"^```(sh|python) (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl here")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Extracted:
    return released_pack_with_packages(tmp_path_factory.mktemp("procedure"))


@pytest.fixture(scope="module")
def blocks(made: Extracted) -> dict[str, str]:
    """VERIFY.md's code blocks by their label (```sh files → "files")."""
    text = made.files[VERIFY].decode()
    return {label: code for _, label, code in BLOCK.findall(text)}


@pytest.fixture
def pack(made: Extracted, tmp_path: Path) -> Path:
    """A fresh copy of the extracted pack, which a test may alter."""
    return Path(shutil.copytree(made.folder, tmp_path / "pack"))


@pytest.fixture
def key_file(made: Extracted, tmp_path: Path) -> Path:
    path = tmp_path / "workspace.pub"
    path.write_text(public_key_pem(made.key))
    return path


def bash(code: str, folder: Path, key: Path) -> subprocess.CompletedProcess[str]:
    """A block of VERIFY.md, run as an auditor pastes it, stopping at the first failure."""
    env = {**os.environ, "KEY": str(key)}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def python_stdlib_only(code: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run `code` isolated from site-packages (-I -S): only the standard library is there."""
    script = folder.parent / "verify_records.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, "-I", "-S", str(script)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verify_md_names_this_pack_and_documents_the_conventions(made: Extracted) -> None:
    text = made.files[VERIFY].decode()
    manifest = made.json("manifest.json")
    assert manifest["candidate"] in text
    assert hashlib.sha256(made.key).hexdigest() in text
    assert "{{" not in text
    for convention in ("RFC 8785", "SHA-256(0x00 || JCS(event))", "SHA-256(0x01 || left || right)"):
        assert convention in text
    assert "openssl pkeyutl -verify -pubin" in text and "-rawin" in text


def test_blocks_cover_every_check(blocks: dict[str, str]) -> None:
    assert set(blocks) >= {
        "setup",
        "fingerprint",
        "manifest-signature",
        "files",
        "evidence",
        "checkpoint-signature",
        "verify_records.py",
        "signed-statements",
    }


def test_sha256sum_checks_every_file_of_the_pack(made: Extracted, pack: Path) -> None:
    """`sha256sum -c SHA256SUMS` passes in the extracted pack and covers every file but the
    manifest, its signature and itself."""
    done = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=pack, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    checked = {line.rsplit(": ", 1)[0] for line in done.stdout.splitlines()}
    assert all(line.endswith(": OK") for line in done.stdout.splitlines())
    assert checked == set(made.files) - {"manifest.json", "manifest.sig", SUMS}


def test_sha256sums_are_the_signed_manifests(made: Extracted) -> None:
    """SHA256SUMS is listed in the signed manifest and says what the manifest says."""
    listed = made.json("manifest.json")["files"]
    assert SUMS in listed
    assert made.files[SUMS] == sha256sums(listed)


def test_sha256sum_names_an_altered_file(pack: Path) -> None:
    report = pack / "report.pdf"
    report.write_bytes(report.read_bytes() + b"%")
    done = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=pack, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "report.pdf: FAILED" in done.stdout


@needs_openssl
def test_fingerprint_block_prints_the_packs_fingerprint(
    made: Extracted, blocks: dict[str, str], pack: Path, key_file: Path
) -> None:
    done = bash(blocks["fingerprint"], pack, key_file)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == hashlib.sha256(made.key).hexdigest()


@needs_openssl
def test_openssl_verifies_the_manifest_signature(
    blocks: dict[str, str], pack: Path, key_file: Path
) -> None:
    done = bash(blocks["manifest-signature"], pack, key_file)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature Verified Successfully" in done.stdout


@needs_openssl
def test_openssl_refuses_an_altered_manifest(
    blocks: dict[str, str], pack: Path, key_file: Path
) -> None:
    manifest = pack / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"format"', b'"Format"'))
    done = bash(blocks["manifest-signature"], pack, key_file)
    assert done.returncode != 0
    assert "Signature Verified Successfully" not in done.stdout


@needs_openssl
def test_openssl_refuses_another_key(blocks: dict[str, str], pack: Path, tmp_path: Path) -> None:
    from clearance.signing import SigningKey

    other = tmp_path / "other.pub"
    other.write_text(public_key_pem(SigningKey.generate().public_raw))
    done = bash(blocks["manifest-signature"], pack, other)
    assert done.returncode != 0


def test_files_block_passes_on_the_pack(blocks: dict[str, str], pack: Path, key_file: Path) -> None:
    done = bash(blocks["files"], pack, key_file)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "SHA256SUMS: what the signed manifest lists",
        "every file: OK",
        "no file added or missing",
    ]


def test_files_block_names_an_added_file(
    blocks: dict[str, str], pack: Path, key_file: Path
) -> None:
    (pack / "evidence" / "extra.txt").write_text("slipped in")
    done = bash(blocks["files"], pack, key_file)
    assert done.returncode != 0
    assert "evidence/extra.txt" in done.stdout


def test_evidence_block_checks_every_digest_name(
    made: Extracted, blocks: dict[str, str], pack: Path, key_file: Path
) -> None:
    done = bash(blocks["evidence"], pack, key_file)
    stored = [n for n in made.files if n.startswith("evidence/files/")]
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split("\n")[:-1]) == sorted(f"OK {n.rsplit('/')[-1]}" for n in stored)
    swapped = pack / stored[0]
    swapped.write_bytes(b"other evidence")
    assert f"MISMATCH {stored[0]}" in bash(blocks["evidence"], pack, key_file).stdout


@needs_openssl
def test_openssl_verifies_the_checkpoint_signature(
    blocks: dict[str, str], pack: Path, key_file: Path
) -> None:
    done = bash(blocks["checkpoint-signature"], pack, key_file)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature Verified Successfully" in done.stdout
    origin, size, rest = (pack / "log/checkpoint").read_text().split("\n", 2)
    (pack / "log/checkpoint").write_text(f"{origin}\n{int(size) - 1}\n{rest}")
    assert bash(blocks["checkpoint-signature"], pack, key_file).returncode != 0


@needs_openssl
def test_openssl_verifies_every_signed_statement(
    made: Extracted, blocks: dict[str, str], pack: Path, key_file: Path
) -> None:
    done = bash(blocks["signed-statements"], pack, key_file)
    envelopes = sorted(n for n in made.files if n.endswith(".dsse.json"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"OK {n}" for n in envelopes]
    assert any(n.startswith("signed/attestations/") for n in envelopes)
    assert any(n.startswith("signed/approvals/") for n in envelopes)


@needs_openssl
def test_signed_statements_block_names_a_statement_signed_by_another_person(
    made: Extracted, blocks: dict[str, str], pack: Path, key_file: Path
) -> None:
    """An approval claiming to be by another person fails: the key is chosen by the person
    the statement names, not by the keyid it carries."""
    import base64

    name = next(n for n in made.files if n.startswith("signed/approvals/"))
    envelope = json.loads(made.files[name])
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["person"] = "alice@example.com"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (pack / name).write_text(json.dumps(envelope))
    done = bash(blocks["signed-statements"], pack, key_file)
    assert f"FAILED {name}" in done.stdout.splitlines()


def test_python_block_verifies_the_pack_with_the_standard_library_alone(
    made: Extracted, blocks: dict[str, str], pack: Path
) -> None:
    done = python_stdlib_only(blocks["verify_records.py"], pack)
    events = made.json("events.json")
    size = int(made.files["log/checkpoint"].decode().split("\n")[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"OK: 1 revision(s), the candidate, {len(events)} event(s) proven in a log of {size}"
    )


@pytest.mark.parametrize(
    ("file", "change", "named"),
    [
        ("events.json", lambda d: d[1].update(actor="mallory"), "is not proven in the signed log"),
        ("log/proofs.json", lambda d: d.update({k: v[::-1] for k, v in d.items()}), "event"),
        (
            "candidate.json",
            lambda d: d["components"][0].update(digest="sha256:" + "0" * 64),
            "candidate.json: the digest is not that of its revision and components",
        ),
        ("log/leaves.txt", None, "the leaves do not give the checkpoint's root"),
    ],
)
def test_python_block_names_what_was_altered(
    blocks: dict[str, str], pack: Path, file: str, change: object, named: str
) -> None:
    path = pack / file
    if change is None:
        lines = path.read_text().split()
        path.write_text("\n".join([*lines[:-1], "00" * 32]) + "\n")
    else:
        data = json.loads(path.read_text())
        change(data)  # type: ignore[operator]
        path.write_text(json.dumps(data))
    done = python_stdlib_only(blocks["verify_records.py"], pack)
    assert not done.stdout.startswith("OK"), done.stdout
    assert named in done.stdout


# -- the snippet's canonical JSON is RFC 8785's ----------------------------------------------


@pytest.fixture(scope="module")
def jcs(blocks: dict[str, str]) -> object:
    """The snippet's `jcs` function, taken from VERIFY.md (its definitions only)."""
    code = blocks["verify_records.py"].split("\nfailures = []", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "verify_records.py", "exec"), namespace)
    return namespace["jcs"]


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, False, None], "\u00e9": "\u00e9\u20ac\U0001f600"},
        {"\U0001f600": 1, "\ufb01": 2, "z": 3},  # sorted by UTF-16 code units, not code points
        'control \u0001 \u001f \n \t " \\ \u007f </script>',
        [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e21,
            1e-7,
            1e-6,
            123456789.0,
            2.0**53,
            5e-324,
            1.7976931348623157e308,
        ],
        [100.0, 1e16, 1.5e-7, 0.000001, 4.35, 333333333.33333329, 1e20, 1e22],
        {"nested": {"list": [{"y": 1, "x": [0.5]}]}, "int": 9007199254740991},
    ],
)
def test_snippet_canonical_json_is_rfc8785(jcs: object, value: object) -> None:
    assert jcs(value) == rfc8785.dumps(value).decode()  # type: ignore[operator]


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=_json)
def test_snippet_canonical_json_matches_rfc8785_on_any_json(jcs: object, value: object) -> None:
    assert jcs(value) == rfc8785.dumps(value).decode()  # type: ignore[operator]


def test_securesystemslib_block_verifies_the_attestation_without_clearance(
    blocks: dict[str, str], pack: Path, key_file: Path, tmp_path: Path
) -> None:
    """VERIFY.md's securesystemslib snippet runs as written (securesystemslib and
    cryptography only), and refuses an attestation signed by another key."""
    script = tmp_path / "sslib_check.py"
    script.write_text(blocks["securesystemslib"])

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script)],
            cwd=pack,
            env={**os.environ, "KEY": str(key_file)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = run()
    assert done.returncode == 0, done.stderr
    other = tmp_path / "other.pub"
    from clearance.signing import SigningKey
    from clearance.signing.statements import public_key_pem

    other.write_text(public_key_pem(SigningKey.generate().public_raw))
    key_file.write_text(other.read_text())
    refused = run()
    assert refused.returncode != 0 and "VerificationError" in refused.stderr


def test_verify_md_shows_the_cosign_command(blocks: dict[str, str]) -> None:
    cosign = blocks["cosign"]
    assert "cosign verify-blob-attestation --key" in cosign
    assert "--type https://clearance.dev/release-decision/v1" in cosign
    assert "--signature signed/attestations/decision-" in cosign
