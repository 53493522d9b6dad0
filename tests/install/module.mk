# SPDX-License-Identifier: MIT
TEST_BINS += tests/install/test_install.sh
