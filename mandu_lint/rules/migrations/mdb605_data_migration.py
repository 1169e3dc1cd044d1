"""stub"""
from ..base import Rule


class DataMigrationHazard(Rule):
    """stub"""
    code = "MDB605"
    name = "stub"
    default = False
