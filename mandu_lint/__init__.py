"""mandu-lint: a static analyser for how Python web apps use their database."""
__version__ = "0.2.0"
