"""S3 landing and the S3 event lake against moto's server, through boto3 and dagster-aws."""
