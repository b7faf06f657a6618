"""`python -m experio.cli ...` (and `accelerate launch -m experio.cli ...`): the `experio` command."""

from . import main

main()
