"""Team-owned ruleset files (``JOBS_PIPELINE_RULESETS_DIR``): read from a folder or an
``s3://`` prefix and handed to the ruleset loader, which finds them beside the shipped ones."""

from pathlib import Path

from jobs_pipeline.domain.errors import RulesetError
from jobs_pipeline.storage.uri import S3Uri, is_s3_uri
from jobs_pipeline.validation.ruleset import RULESET_SUFFIXES, RulesetFile, use_extra_rulesets


def read_ruleset_files(location: str, *, endpoint_url: str | None = None,
                       region: str | None = None) -> list[RulesetFile]:
    """Every ``.yaml``/``.yml``/``.json`` file directly in ``location`` (not in sub-folders)."""
    if is_s3_uri(location):
        return _read_s3(S3Uri.parse(location), endpoint_url, region)
    folder = Path(location).expanduser()
    if not folder.is_dir():
        raise RulesetError(f"JOBS_PIPELINE_RULESETS_DIR {location!r} is not a folder")
    files = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in RULESET_SUFFIXES and p.is_file()):
        try:
            files.append(RulesetFile(origin=str(path), text=path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesetError(f"ruleset file {path}: cannot be read ({type(exc).__name__})") from None
    return files


def _read_s3(root: S3Uri, endpoint_url: str | None, region: str | None) -> list[RulesetFile]:
    from jobs_pipeline.storage.client import s3_client

    client = s3_client(endpoint_url=endpoint_url, region=region)
    files = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=root.bucket, Prefix=root.prefix,
                                                                    Delimiter="/"):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if not key.endswith(RULESET_SUFFIXES):
                    continue
                body = client.get_object(Bucket=root.bucket, Key=key)["Body"].read()
                files.append(RulesetFile(origin=f"s3://{root.bucket}/{key}", text=body.decode("utf-8")))
    except UnicodeDecodeError:
        raise RulesetError(f"ruleset file s3://{root.bucket}/{key}: not UTF-8 text") from None
    except Exception as exc:  # botocore's errors: the location is unusable, say why in one line
        raise RulesetError(f"JOBS_PIPELINE_RULESETS_DIR {root}: cannot be listed or read ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return sorted(files, key=lambda f: f.origin)


def install_ruleset_files(location: str | None, *, endpoint_url: str | None = None,
                          region: str | None = None) -> None:
    """Make the files at ``location`` (None: none) loadable beside the shipped rulesets."""
    use_extra_rulesets(read_ruleset_files(location, endpoint_url=endpoint_url, region=region) if location else [])
