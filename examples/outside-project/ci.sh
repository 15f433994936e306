#!/bin/sh
# This project's CI: test mysmtp with starttls-mock, installed on the system
# or, given a prefix as $1, in that prefix (cmake --install BUILD --prefix
# PREFIX). JUnit goes to junit.xml; the exit status is pytest's.
set -eu
cd "$(dirname "$0")"
if [ $# -gt 0 ]; then
  PATH="$1/bin:$PATH" PYTHONPATH="$1/lib/python3/dist-packages"
  export PATH PYTHONPATH
fi
exec /usr/bin/python3 -m pytest --junitxml junit.xml
