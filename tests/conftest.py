"""Shared fixtures: `aws_endpoints` (loopback AWS, from fakeaws.py) is available to every test module."""

pytest_plugins = ("fakeaws",)
