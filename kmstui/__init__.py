"""kmstui: see what happened to your AWS KMS keys, from CloudTrail, in a terminal."""

__version__ = "0.1.0"
