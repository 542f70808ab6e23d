"""The server tests' S3 server and buckets (see tests/s3server.py)."""

from tests.s3server import s3_bucket, s3_endpoint, s3_environment, s3_session  # noqa: F401
