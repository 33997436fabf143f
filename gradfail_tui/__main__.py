"""`python -m gradfail_tui ...`: the `gradfail` command."""

from gradfail_tui.launch import main

main()
