"""``python -m skhep_reweight demo``: the same as the ``skhep-reweight`` console command."""

from ._cli import entry_point

if __name__ == "__main__":
    raise SystemExit(entry_point())
