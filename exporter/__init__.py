"""aws-reservation-exporter: Prometheus exporter for AWS reserved capacity."""

__version__ = "0.1.0"
