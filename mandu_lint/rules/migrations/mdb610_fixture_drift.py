"""stub"""
from ..base import Rule


class FixtureDrift(Rule):
    """stub"""
    code = "MDB610"
    name = "stub"
    default = False
