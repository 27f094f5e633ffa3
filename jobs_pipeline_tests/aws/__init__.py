"""Issue 8: S3 landing and S3 event lake against moto's server, through boto3 and dagster-aws."""
