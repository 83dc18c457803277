"""``python -m psychrnn_rs ...`` (and the ``psychrnn-rs`` command): the ``psychrnn`` command
line, from the installed package."""

import sys

from . import _native


def main():
    """Runs the command line of ``sys.argv`` and exits with its code."""
    sys.exit(_native.main(["psychrnn", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
