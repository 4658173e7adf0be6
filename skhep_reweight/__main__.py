"""``python -m skhep_reweight demo``: the same as the ``skhep-reweight`` console command."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
