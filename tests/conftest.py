"""Shared fixtures: `aws_endpoints` (loopback AWS, from fakeaws.py) and `s3` (moto's S3 behind a
logging proxy, from fakes3.py) are available to every test module."""

pytest_plugins = ("fakeaws", "fakes3")
