"""``python -m ty_cli``: the same program as ``tyctl``."""

from ty_cli.main import PROG, main

if __name__ == "__main__":
    main(prog_name=PROG)
