"""``python -m bench``: the same as ``python -m bench.run_all``."""

from bench.run_all import main

main()
