"""Prometheus metrics for services, available with the ``metrics`` extra."""

try:
    import prometheus_client
except ImportError:  # the extra is not installed
    prometheus_client = None


def request_counter(service):
    if prometheus_client is None:
        raise RuntimeError("install katmisc[metrics] for metrics support")
    return prometheus_client.Counter(f"{service}_requests", f"requests handled by {service}")
