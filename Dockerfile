# aws-reservation-exporter container image.
#
#   docker build -t aws-reservation-exporter .
#   docker run --rm -p 9725:9725 --read-only \
#     -v "$PWD/config.yaml:/etc/aws-reservation-exporter/config.yaml:ro" aws-reservation-exporter
#
# Two stages: the first builds the wheel and installs it into a virtualenv with
# docker/install.sh (the same script the test suite runs); the second copies
# only that virtualenv onto a clean base. No HEALTHCHECK: Kubernetes probes
# /healthz and /readyz instead (see helm/).

FROM python:3.12-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
COPY docker/install.sh ./docker/install.sh
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
    && sh docker/install.sh /opt/venv /wheels/*.whl


FROM python:3.12-slim

LABEL org.opencontainers.image.title="aws-reservation-exporter" \
      org.opencontainers.image.description="Prometheus exporter for AWS reserved capacity expiry" \
      org.opencontainers.image.licenses="Apache-2.0"

# Read-only root filesystem: never write .pyc files, buffer nothing, and point
# HOME at /tmp (an emptyDir in the Helm chart) so nothing looks for a home
# directory that user 65534 does not have.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp

COPY --from=build /opt/venv /opt/venv

USER 65534:65534
WORKDIR /tmp
EXPOSE 9725

ENTRYPOINT ["aws-reservation-exporter"]
CMD ["--config.file=/etc/aws-reservation-exporter/config.yaml"]
