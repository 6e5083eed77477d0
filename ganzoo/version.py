"""The package version: a leaf module, so any layer can say which ganzoo wrote a file."""

__version__ = "0.1.0"
