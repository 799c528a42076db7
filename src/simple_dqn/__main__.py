"""`python -m simple_dqn`: the same command line as main.py of the original."""

from simple_dqn.main import main

if __name__ == "__main__":
    raise SystemExit(main())
