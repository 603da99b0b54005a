"""A small implementation of the KATCP line protocol used by CAM devices."""

from .message import Message, MessageError
from .server import DeviceServer
from .client import BlockingClient

__version__ = "0.9.4"
__all__ = ["Message", "MessageError", "DeviceServer", "BlockingClient"]
