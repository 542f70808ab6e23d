"""Request bodies. Plans travel as their text (the server validates them again); files
travel as blobs uploaded first and named by digest; acts of people as signed envelopes."""

from __future__ import annotations

from pydantic import BaseModel, Field

DIGEST = r"^sha256:[0-9a-f]{64}$"


class Signature(BaseModel):
    keyid: str = Field(max_length=200)
    sig: str = Field(max_length=1000)


class Envelope(BaseModel):
    """A DSSE envelope of an in-toto Statement v1, signed with the caller's own key."""

    payloadType: str = Field(max_length=200)  # DSSE's own field name
    payload: str = Field(max_length=4 << 20)
    signatures: list[Signature] = Field(min_length=1, max_length=16)


class Signed(BaseModel):
    envelope: Envelope


class PlanInput(BaseModel):
    text: str = Field(description="The plan file's text (YAML or JSON).", max_length=1 << 20)
    filename: str = Field(default="plan.yaml", min_length=1, max_length=255)
    digests: dict[str, str] = Field(
        default_factory=dict, description="Each component's artifact digest, by component name."
    )


class Submit(PlanInput):
    message: str = Field(min_length=1, max_length=10_000)
    parent: str | None = Field(
        default=None,
        pattern=DIGEST,
        description="The revision this edit started from: 409 if another came since.",
    )


class StoredFile(BaseModel):
    criterion: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=1000)
    digest: str = Field(pattern=DIGEST)
    size: int = Field(ge=0, le=1 << 53)


class Check(PlanInput):
    files: list[StoredFile] = Field(default_factory=list, max_length=100_000)


class Evidence(PlanInput):
    criterion: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=1000)
    digest: str = Field(pattern=DIGEST)
    size: int = Field(ge=0, le=1 << 53)
    source: str | None = Field(default=None, max_length=2000)
    attestation: Envelope | None = None


class Export(BaseModel):
    candidate: str = Field(pattern=DIGEST)
