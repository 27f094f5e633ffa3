"""Object storage for the landing area, the event lake, quarantine and reports.

Local folders stay the default; an ``s3://bucket/prefix`` location selects these modules.
boto3 is imported lazily, only where S3 is chosen.
"""
