#!/usr/bin/python3
"""Presigns S3 GET URLs with botocore at a fixed signing time, as an independent reference for the project's
SigV4 presigner (tests/unit/sigv4_test.cpp runs this script and compares signatures).

Input (stdin): a JSON list of cases
  {"endpoint": "http://127.0.0.1:9000", "region": "us-east-1", "bucket": "b", "key": "a b/c",
   "path_style": true, "expires": 600, "time": "20130524T000000Z",
   "access_key_id": "...", "secret_access_key": "..."}
Output (stdout): a JSON list with one presigned URL per case, in order.

The clock is fixed by patching botocore.auth.get_current_datetime where it exists (botocore >= 1.31) and
otherwise the `datetime` module that botocore.auth uses (Debian 12 ships botocore 1.29, which calls
datetime.datetime.utcnow() directly). Exits non-zero when botocore cannot be imported, so the calling test
fails instead of silently skipping.
"""

import datetime
import json
import sys
import types
from unittest import mock

import botocore.auth
import botocore.session
from botocore.config import Config


def fixed_clock(when):
    """A patch that makes botocore.auth see `when` (naive UTC) as the current time."""
    if hasattr(botocore.auth, "get_current_datetime"):
        return mock.patch.object(botocore.auth, "get_current_datetime", return_value=when)

    class FixedDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

        @classmethod
        def now(cls, tz=None):
            return when if tz is None else when.replace(tzinfo=datetime.timezone.utc).astimezone(tz)

    shim = types.SimpleNamespace(**{name: getattr(datetime, name) for name in dir(datetime) if not name.startswith("__")})
    shim.datetime = FixedDatetime
    return mock.patch.object(botocore.auth, "datetime", shim)


def presign(session, case):
    when = datetime.datetime.strptime(case["time"], "%Y%m%dT%H%M%SZ")
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if case["path_style"] else "virtual"},
        retries={"max_attempts": 0},
    )
    client = session.create_client(
        "s3",
        region_name=case["region"],
        endpoint_url=case["endpoint"],
        aws_access_key_id=case["access_key_id"],
        aws_secret_access_key=case["secret_access_key"],
        config=config,
    )
    with fixed_clock(when):
        return client.generate_presigned_url(
            "get_object", Params={"Bucket": case["bucket"], "Key": case["key"]}, ExpiresIn=case["expires"]
        )


def main():
    cases = json.load(sys.stdin)
    session = botocore.session.get_session()
    json.dump([presign(session, case) for case in cases], sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
