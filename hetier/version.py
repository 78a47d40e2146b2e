"""hetier's version, in a module of its own so that every layer can name it without importing the
package's public API (``hetier/__init__.py``)."""

__version__ = "0.1.0"
