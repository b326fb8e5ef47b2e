"""express-session's semantics for Django sessions."""

__version__ = "0.1.0"
