"""In AWS the functions reach Postgres through RDS Proxy with verified TLS, as their own role."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from boxoffice.settings import Settings
from boxoffice.stores.database import conninfo_from_settings


@mock_aws
def test_the_proxy_s_certificate_and_name_are_verified():
    secret = boto3.client("secretsmanager").create_secret(
        Name="app-db", SecretString=json.dumps({"username": "boxoffice_app", "password": "pw"})
    )
    settings = Settings(
        db_host="boxoffice-proxy.proxy-abc.us-east-1.rds.amazonaws.com",
        db_secret_arn=secret["ARN"],
    )
    parts = conninfo_to_dict(conninfo_from_settings(settings))
    assert parts["sslmode"] == "verify-full"
    assert parts["user"] == "boxoffice_app"
    bundle = Path(str(parts["sslrootcert"])).read_text()
    # RDS Proxy presents an ACM certificate under Amazon's public roots.
    assert "Amazon Root CA 1" in bundle


def test_a_database_url_is_used_as_given():
    url = "postgresql://u:p@127.0.0.1:5432/boxoffice"
    assert conninfo_from_settings(Settings(database_url=url)) == url
