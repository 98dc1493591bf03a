"""One module per command group; see chanquan.cli.COMMAND_MODULES for the order."""
