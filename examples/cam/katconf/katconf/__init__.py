"""Telescope configuration: load and validate the system description."""

from .config import ConfigError, Receptor, SystemConfig, load_system, bundled_system

__version__ = "2.1.0"
__all__ = ["ConfigError", "Receptor", "SystemConfig", "load_system", "bundled_system"]
