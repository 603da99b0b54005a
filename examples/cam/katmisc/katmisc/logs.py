"""One log format for every service, so the node's journal reads the same everywhere."""

import logging

FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def service_logger(name, level=logging.INFO):
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    logger.setLevel(level)
    return logger
