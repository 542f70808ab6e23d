"""The wrong kind of input is bad input (exit 2) that says what to give instead, never an
integrity failure (exit 3): a public key where a private key is expected, an unreadable key
file, a subject digest not written as sha256:<64 hex>."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import click.testing
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clearance.errors import UsageError
from clearance.signing import SigningKey
from clearance.signing.statements import public_key_pem, subject_digest

DIGEST = hashlib.sha256(b"model weights").hexdigest()


@pytest.fixture
def key_pair(tmp_path: Path) -> tuple[SigningKey, Path, Path]:
    """A key pair as `clearance keys generate -o dana.pem` writes it."""
    key = SigningKey.generate()
    private = tmp_path / "dana.pem"
    key.save(private)
    public = tmp_path / "dana.pem.pub"
    public.write_text(public_key_pem(key.public_raw))
    return key, private, public


def refused(path: Path) -> UsageError:
    with pytest.raises(UsageError) as error:
        SigningKey.load(path)
    assert error.value.exit_code == 2
    return error.value


def test_private_key_file_loads(key_pair: tuple[SigningKey, Path, Path]) -> None:
    key, private, _ = key_pair
    assert SigningKey.load(private).key_id == key.key_id


def test_public_key_file_is_refused_naming_the_private_one(
    key_pair: tuple[SigningKey, Path, Path],
) -> None:
    """Given dana.pem.pub, the message says it is a public key and to sign with dana.pem."""
    _, private, public = key_pair
    message = refused(public).message
    assert f"{public} is a public key" in message
    assert f"sign with {private}" in message


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="pem-without-private-sibling"),
        pytest.param("base64", id="raw-base64"),
        pytest.param("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA user@host\n", id="openssh"),
        pytest.param(
            "-----BEGIN RSA PUBLIC KEY-----\nMAo=\n-----END RSA PUBLIC KEY-----\n", id="pkcs1"
        ),
    ],
)
def test_public_keys_of_every_form_are_refused_as_public(
    tmp_path: Path, content: str | None
) -> None:
    key = SigningKey.generate()
    if content is None:
        content = public_key_pem(key.public_raw)
    elif content == "base64":
        content = base64.b64encode(key.public_raw).decode() + "\n"
    path = tmp_path / "someone.pub"
    path.write_text(content)
    message = refused(path).message
    assert "is a public key" in message
    assert "clearance keys generate -o FILE" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a key", "not a readable private key"),
        (b"", "not a readable private key"),
        (b"\xff\xfe\x00garbage", "not a readable private key"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a readable"),
    ],
)
def test_garbage_key_files_are_bad_input(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "junk.pem"
    path.write_bytes(content)
    message = refused(path).message
    assert expected in message
    assert "clearance keys generate -o FILE" in message


def test_encrypted_private_key_is_bad_input(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "locked.pem"
    path.write_bytes(
        key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    assert "is an encrypted private key" in refused(path).message


def test_private_key_of_another_algorithm_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert "not an Ed25519 private key" in refused(path).message


def test_key_path_that_is_a_folder_is_bad_input(tmp_path: Path) -> None:
    assert "cannot read the signing key" in refused(tmp_path).message


def test_missing_key_file_is_bad_input(tmp_path: Path) -> None:
    assert "no signing key at" in refused(tmp_path / "missing.pem").message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (f"sha256:{DIGEST}", f"sha256:{DIGEST}"),
        (f"sha256:{DIGEST.upper()}", f"sha256:{DIGEST}"),
        (f"  sha256:{DIGEST}\n", f"sha256:{DIGEST}"),
    ],
)
def test_subject_digest_accepts_sha256_hex(given: str, expected: str) -> None:
    assert subject_digest(given) == expected


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        (DIGEST, f"write sha256:{DIGEST}"),
        (DIGEST.upper(), f"write sha256:{DIGEST}"),
        (f"sha256:{DIGEST[:-1]}", "write sha256:<64 hex>"),
        (f"sha512:{DIGEST}", "write sha256:<64 hex>"),
        (f"sha256:{DIGEST}0", "write sha256:<64 hex>"),
        ("", "write sha256:<64 hex>"),
        ("model.bin", "write sha256:<64 hex>"),
    ],
)
def test_malformed_subject_digest_says_how_to_write_it(given: str, hint: str) -> None:
    with pytest.raises(UsageError) as error:
        subject_digest(given)
    assert "is not a sha256 digest" in error.value.message and hint in error.value.message


def run(*args: str) -> tuple[int, str]:
    """Run `clearance ARGS` in this process: exit code and stderr."""
    from clearance.cli.main import main
    from clearance.cli.output import console

    console.cache_clear()
    with click.testing.CliRunner().isolation() as (_out, err, _):
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        return int(exit_.value.code or 0), err.getvalue().decode()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("CLEARANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLEARANCE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_attestation_verify_with_a_bare_hex_subject_exits_2(
    here: Path, key_pair: tuple[SigningKey, Path, Path]
) -> None:
    """A subject without `sha256:` is bad input (2) with the fix, not a failed check (3)."""
    _, _, public = key_pair
    (here / "a.json").write_text(json.dumps({"payload": "", "signatures": []}))
    code, err = run("attestation", "verify", "a.json", "--subject", DIGEST, "--key", str(public))
    assert code == 2, err
    assert f"write sha256:{DIGEST}" in err
    assert "does not allow deploying" not in err


def test_attestation_verify_with_a_valid_subject_still_checks_the_file(
    here: Path, key_pair: tuple[SigningKey, Path, Path]
) -> None:
    """A well-formed subject against an attestation that does not verify is still exit 3."""
    _, _, public = key_pair
    (here / "a.json").write_text(json.dumps({"payload": "", "signatures": []}))
    subject = f"sha256:{DIGEST}"
    code, err = run("attestation", "verify", "a.json", "--subject", subject, "--key", str(public))
    assert code == 3, err
    assert f"does not allow deploying {subject}" in err


def test_approve_with_a_public_key_exits_2_and_with_the_private_key_signs(
    here: Path, key_pair: tuple[SigningKey, Path, Path]
) -> None:
    """`clearance approve --key dana.pem.pub` says to sign with dana.pem (exit 2)."""
    from tests.builders import write_plan_folder

    _, private, public = key_pair
    write_plan_folder(here)
    assert run("init")[0] == 0
    assert run("env", "declare", "production")[0] == 0
    assert run("plan", "submit", "plan.yaml", "-m", "first")[0] == 0
    code, err = run(
        "people", "add", "dana@example.com", "--role", "model-risk", "--public-key", str(public)
    )
    assert code == 0, err
    assert run("check", "plan.yaml")[0] == 1
    code, err = run("approve", "plan.yaml", "--role", "model-risk", "--key", str(public))
    assert code == 2, err
    assert "is a public key" in err and f"sign with {private}" in err
    code, err = run("--identity", str(private), "approve", "plan.yaml", "--role", "model-risk")
    assert code == 0, err
