#!/bin/sh
# Installs what the policy-learning benchmarks read (not needed by the tests):
# Fashion-MNIST (Debian's dataset-fashion-mnist) and PyTorch for the speed comparison.
set -e
apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends dataset-fashion-mnist python3-torch python3-numpy
dpkg -L dataset-fashion-mnist | grep -E 'ubyte' || true
