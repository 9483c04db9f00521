"""``python -m tinygrad_gd``: the same as the ``tinygrad-gd`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
