"""stub"""
from ..base import Rule


class SeedNotIdempotent(Rule):
    """stub"""
    code = "MDB609"
    name = "stub"
    default = False
