"""`python -m cinesonic …`: the same command line as the `cinesonic` script."""

from cinesonic.cli import main

if __name__ == "__main__":
    main()
