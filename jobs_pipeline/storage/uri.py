"""``s3://bucket/prefix`` locations, parsed once so every S3 module agrees on key prefixes.

A prefix is kept with a trailing ``/`` (or empty for a whole bucket) so that ``landing``
never matches ``landing-old/...`` and a relative path is simply ``key[len(prefix):]``.
"""

from dataclasses import dataclass

SCHEME = "s3://"


def is_s3_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    prefix: str = ""  # "" or ending with "/"

    @classmethod
    def parse(cls, value: str) -> "S3Uri":
        if not is_s3_uri(value):
            raise ValueError(f"not an s3:// location: {value!r}")
        bucket, _, prefix = value[len(SCHEME):].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {value!r}")
        prefix = prefix.strip("/")
        return cls(bucket=bucket, prefix=f"{prefix}/" if prefix else "")

    def key(self, relpath: str) -> str:
        return self.prefix + relpath.lstrip("/")

    def uri(self, relpath: str = "") -> str:
        return f"{SCHEME}{self.bucket}/{self.key(relpath)}"

    def child(self, relpath: str) -> "S3Uri":
        return S3Uri.parse(self.uri(relpath))

    def __str__(self) -> str:
        return self.uri()


def split_object_uri(value: str) -> tuple[str, str]:
    """``s3://bucket/some/key.csv`` -> ``("bucket", "some/key.csv")``."""
    if not is_s3_uri(value):
        raise ValueError(f"not an s3:// object: {value!r}")
    bucket, _, key = value[len(SCHEME):].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ValueError(f"not an s3:// object: {value!r}")
    return bucket, key
