"""s3_landing_sensor against moto's S3 server through dagster-aws's S3Resource."""

import json

from jobs_pipeline.storage.s3_objects import REASON_SUFFIX
from jobs_pipeline_tests.aws.harness import SensorDriver, landing_resource, put_many
from jobs_pipeline_tests.dagster_helpers import batch_feeds

FEED = b"id,title\nSKU-1,Hello\n"
KEY = "landing/google_merchant/electronics/BR/feed.csv"


def test_new_object_one_run_same_object_none_reupload_a_new_run(moto_server, s3, bucket, instance):
    driver = SensorDriver(instance, landing_resource(moto_server, bucket))
    assert driver.run_keys() == []

    s3.put_object(Bucket=bucket, Key=KEY, Body=FEED)
    first = driver.tick().run_requests
    assert len(first) == 1
    [config] = batch_feeds(first)
    assert config["path"] == f"s3://{bucket}/{KEY}"
    assert (config["marketplace"], config["category"], config["region"]) == ("google_merchant", "electronics", "BR")

    assert driver.run_keys() == []  # same object, next tick
    assert driver.run_keys() == []  # and after the sweep wrapped around

    s3.put_object(Bucket=bucket, Key=KEY, Body=FEED + b"SKU-2,World\n")  # re-uploaded, new ETag
    again = driver.tick().run_requests
    assert len(again) == 1 and again[0].run_key != first[0].run_key
    assert batch_feeds(again)[0]["job_id"] != config["job_id"]
    assert driver.run_keys() == []


def test_a_half_uploaded_multipart_object_is_not_picked_up(moto_server, s3, bucket, instance):
    driver = SensorDriver(instance, landing_resource(moto_server, bucket))
    key = "landing/amazon/electronics/US/big.csv"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=FEED)
    assert s3.list_multipart_uploads(Bucket=bucket)["Uploads"]  # really in progress
    assert driver.run_keys() == []

    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    requests = driver.tick().run_requests
    assert [f["path"] for f in batch_feeds(requests)] == [f"s3://{bucket}/{key}"]
    assert driver.run_keys() == []


def test_an_unusable_object_is_copied_to_quarantine_with_its_reason_and_left_in_place(
        moto_server, s3, bucket, instance):
    driver = SensorDriver(instance, landing_resource(moto_server, bucket))
    bad_key = "landing/google_merchant/feed-without-folders.csv"
    s3.put_object(Bucket=bucket, Key=bad_key, Body=FEED)
    s3.put_object(Bucket=bucket, Key=KEY, Body=FEED)

    requests = driver.tick().run_requests
    assert [f["path"] for f in batch_feeds(requests)] == [f"s3://{bucket}/{KEY}"]
    copy_key = "quarantine/google_merchant/feed-without-folders.csv"
    assert s3.get_object(Bucket=bucket, Key=copy_key)["Body"].read() == FEED
    reason = json.loads(s3.get_object(Bucket=bucket, Key=copy_key + REASON_SUFFIX)["Body"].read())
    assert reason["source"] == f"s3://{bucket}/{bad_key}"
    assert "expected <marketplace>/<category>/<region>/<file>" in reason["reason"]
    assert s3.get_object(Bucket=bucket, Key=bad_key)["Body"].read() == FEED  # original intact

    assert driver.run_keys() == []  # reported once, not every tick
    assert len(s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/")["Contents"]) == 2


def test_quarantine_inside_the_landing_prefix_is_never_listed_as_a_feed(moto_server, s3, bucket, instance):
    resource = landing_resource(moto_server, bucket, quarantine_uri=f"s3://{bucket}/landing/_quarantine")
    driver = SensorDriver(instance, resource)
    s3.put_object(Bucket=bucket, Key="landing/_quarantine/a/b/C/old.csv", Body=FEED)  # valid-looking path
    s3.put_object(Bucket=bucket, Key="landing/google_merchant/x/BR/new.csv.part", Body=FEED)  # in progress
    assert driver.run_keys() == []


def test_error_reports_inside_the_landing_prefix_are_never_listed_as_feeds(moto_server, s3, bucket, instance):
    resource = landing_resource(moto_server, bucket, reports_uri=f"s3://{bucket}/landing/_reports")
    driver = SensorDriver(instance, resource)
    s3.put_object(Bucket=bucket, Key="landing/_reports/a/b/C/errors.csv", Body=FEED)  # valid-looking path
    s3.put_object(Bucket=bucket, Key="landing/amazon/toys/US/feed.csv", Body=FEED)
    assert len(driver.run_keys()) == 1


def test_1000_objects_across_pages_each_launch_exactly_once_over_several_ticks(moto_server, s3, bucket, instance):
    markets = ["google_merchant", "amazon", "shopee", "mercado_livre"]
    keys = [f"landing/{markets[i % 4]}/cat{i % 7}/BR/feed-{i:04d}.csv" for i in range(1000)]
    put_many(s3, bucket, [(k, b"id\n%d\n" % i) for i, k in enumerate(keys)]
             + [(f"landing/amazon/cat0/BR/tmp-{i}.csv.part", b"x") for i in range(20)])
    resource = landing_resource(moto_server, bucket, page_size=100, max_keys_per_tick=300, max_files_per_tick=120)
    driver = SensorDriver(instance, resource)

    launched: list[str] = []
    paths: list[str] = []
    ticks = 0
    while ticks < 40:
        ticks += 1
        requests = driver.tick().run_requests or []
        assert len(requests) <= 120
        launched += [f["file_key"] for f in batch_feeds(requests)]
        paths += [f["path"] for f in batch_feeds(requests)]
        if not requests and json.loads(driver.cursor)["after"] == "" and len(launched) == 1000:
            break
    assert ticks > 8  # really spread over several ticks
    assert len(launched) == len(set(launched)) == 1000
    assert sorted(paths) == sorted(f"s3://{bucket}/{k}" for k in keys)
    for _ in range(4):  # a whole further sweep (300 keys a tick) finds nothing new
        assert driver.run_keys() == []
    assert len(driver.cursor) < 40_000  # the cursor stays small: 16-hex digests, no keys


def test_odd_keys_never_stop_the_sensor_and_are_quarantined_once_logged_escaped(
        moto_server, s3, bucket, instance, capfd):
    odd = {
        "landing/amazon/toys/US/a\x01b.csv": "control or invisible",
        "landing/amazon/toys/US/feed\u202ecsv.exe": "control or invisible",  # a right-to-left override
        "landing/amazon//US/feed.csv": "empty folder name",  # never collapsed into amazon/US
        "landing/amazon/../US/feed.csv": "dots alone",
        "landing/./toys/US/feed.csv": "dots alone",
        "landing/amazon/toys/US/" + "x" * 990 + ".csv/y.csv": "expected <marketplace>",  # 1,023 bytes
    }
    good = ["landing/amazon/toys/US/good.csv", "landing/" + "m" * 200 + "/toys/US/long-segment.csv"]
    for key in [*odd, *good]:
        s3.put_object(Bucket=bucket, Key=key, Body=FEED)
    driver = SensorDriver(instance, landing_resource(moto_server, bucket))
    capfd.readouterr()
    requests = driver.tick().run_requests
    assert sorted(f["path"] for f in batch_feeds(requests)) == sorted(
        f"s3://{bucket}/{k}" for k in good)
    err = capfd.readouterr().err
    for reason in odd.values():
        assert reason in err
    assert "a\\x01b.csv" in err and "feed\\u202ecsv.exe" in err
    assert "\x01" not in err and "\u202e" not in err  # one escaped line each, no raw control characters
    copies = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/")["Contents"]}
    assert "quarantine/amazon/toys/US/a\x01b.csv" in copies and len(copies) == 2 * len(odd)
    json.loads(driver.cursor)
    assert driver.run_keys() == [] and driver.run_keys() == []  # reported once, not every tick
    assert "unusable" not in capfd.readouterr().err


def test_a_failed_quarantine_copy_is_logged_once_and_the_others_launch(moto_server, s3, bucket, instance, capfd):
    """Real S3 refuses a copy whose key would pass 1,024 bytes; any failed copy is reported, not fatal."""
    resource = landing_resource(moto_server, bucket, quarantine_uri=f"s3://{bucket}-missing/quarantine")
    driver = SensorDriver(instance, resource)
    s3.put_object(Bucket=bucket, Key="landing/amazon/toys/US/a\x01b.csv", Body=FEED)
    s3.put_object(Bucket=bucket, Key=KEY, Body=FEED)
    capfd.readouterr()
    assert len(driver.run_keys()) == 1
    err = capfd.readouterr().err
    assert err.count("a\\x01b.csv: the name holds control or invisible characters") == 1
    assert "cannot quarantine it: NoSuchBucket" in err or "cannot quarantine it: ClientError" in err
    assert driver.run_keys() == [] and "a\\x01b.csv" not in capfd.readouterr().err
