"""`python -m inkwell`: the same as the `inkwell` command."""

from inkwell.launcher import main

main()
