#!/bin/sh
# Installs the exporter wheel into a fresh virtualenv and checks the result.
# The Dockerfile and tests/artefacts/test_docker_install.py both run this script, so the
# image's install steps are exercised without a Docker daemon.
#
#   docker/install.sh VENV_DIR WHEEL [WHEEL...]
#
# The venv gets no pip cache and precompiled bytecode: the container runs with
# a read-only root filesystem and PYTHONDONTWRITEBYTECODE, so nothing may need
# writing later.
set -eu

if [ "$#" -lt 2 ]; then
    echo "usage: $0 VENV_DIR WHEEL [WHEEL...]" >&2
    exit 64
fi
venv=$1
shift
python=${PYTHON:-python3}

"$python" -m venv "$venv"
PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
    "$venv/bin/python" -m pip install --quiet "$@"
# pip is not needed at run time; removing it shrinks the image and the attack surface.
"$venv/bin/python" -m pip uninstall --quiet --yes pip

# Smoke check: the console script starts and reports the packaged version.
"$venv/bin/aws-reservation-exporter" --version
