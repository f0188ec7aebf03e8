"""Buckets of an S3-compatible store: made by ``soundflow server s3``, checked before ``soundflow server mlflow``
stores artifacts in one; botocore's failures said in one sentence naming the bucket and the endpoint.

Why the check at the MLflow server's start: its clients send artifacts through it (``mlflow-artifacts:/``), so a
missing bucket reaches them only as HTTP 500s retried until "Max retries exceeded", long after the server said
it was ready. Asking the store once, before the server starts, names the cause while it is still cheap to fix.
"""

from __future__ import annotations

import os
import re
import urllib.parse

from soundflow.errors import UserError

DEFAULT_BUCKET = "soundflow"  # docker-compose.yml's and the README's DVC remote: s3://soundflow/dvc
# moto accepts any credentials but boto3 signs every request: these when the environment has none
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "soundflow-local", "AWS_SECRET_ACCESS_KEY": "soundflow-local"}
_MISSING = {"404", "NoSuchBucket", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"}


# S3's rules for a bucket's name (moto's server accepts any name; AWS and MinIO do not)
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class BadBucketName(UserError, ValueError):
    """A name S3 would refuse for a bucket."""


class BucketMissing(UserError, LookupError):
    """The bucket named does not exist on the store asked."""


class S3Unavailable(UserError, ConnectionError):
    """The S3 store does not answer, refuses the credentials or the request."""


def check_names(buckets: list[str]) -> None:
    for bucket in buckets:
        if not _NAME.match(bucket) or ".." in bucket:
            raise BadBucketName(
                f"--bucket {bucket}: not an S3 bucket name (3 to 63 lowercase letters, digits, '.' or '-', "
                "starting and ending with a letter or digit)"
            )


def bucket_of(uri: str) -> str | None:
    """The bucket of an ``s3://BUCKET/prefix`` URI (None for anything else)."""
    parts = urllib.parse.urlsplit(uri)
    return parts.netloc or None if parts.scheme == "s3" else None


def where(endpoint: str | None) -> str:
    return endpoint or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"


def client(endpoint: str | None, credentials: dict[str, str] | None = None):
    """boto3's S3 client with short timeouts and two attempts: a check, not a transfer."""
    import boto3
    from botocore.config import Config

    keys = credentials or {}
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=keys.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=keys.get("AWS_SECRET_ACCESS_KEY"),
        region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}),
    )


def describe(err: Exception, bucket: str, endpoint: str | None) -> UserError:
    """botocore's error about ``bucket`` as the one-line error a user acts on."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    at = f"bucket {bucket} at {where(endpoint)}"
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _MISSING:
            return BucketMissing(
                f"bucket {bucket} does not exist at {where(endpoint)}: create it (`soundflow server s3 --bucket "
                f"{bucket}` serves one locally; on another store `aws s3 mb s3://{bucket}`)"
            )
        if code in _DENIED:
            return S3Unavailable(
                f"{at} refuses these credentials ({code}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"
            )
        return S3Unavailable(f"{at}: {code or 'error'} {error.get('Message', '')}".strip())
    if isinstance(err, NoCredentialsError):
        return S3Unavailable(f"{at}: no credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if isinstance(err, EndpointConnectionError):
        return S3Unavailable(
            f"{at}: the store does not answer; start it (`soundflow server s3`) or set MLFLOW_S3_ENDPOINT_URL"
        )
    first = (str(err).splitlines() or [type(err).__name__])[0]
    return S3Unavailable(f"{at}: {first}")


def check(bucket: str, endpoint: str | None) -> None:
    """Nothing if ``bucket`` exists and these credentials reach it; else the one-line error."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client(endpoint, _env_credentials()).head_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError) as err:
        raise describe(err, bucket, endpoint) from err


def create(endpoint: str, buckets: list[str]) -> None:
    """Each of ``buckets`` on the store at ``endpoint`` (one that exists already is kept as it is)."""
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = client(endpoint, _env_credentials() or LOCAL_CREDENTIALS)
    for bucket in buckets:
        try:
            s3.create_bucket(Bucket=bucket, **_location(s3.meta.region_name))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise describe(err, bucket, endpoint) from err
        except BotoCoreError as err:  # a name botocore refuses before sending it, a connection lost
            raise describe(err, bucket, endpoint) from err


def _location(region: str) -> dict[str, object]:
    # S3 wants no LocationConstraint for its default region and one for any other
    return {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}


def _env_credentials() -> dict[str, str] | None:
    keys = {k: os.environ[k] for k in LOCAL_CREDENTIALS if os.environ.get(k)}
    return keys if len(keys) == len(LOCAL_CREDENTIALS) else None
