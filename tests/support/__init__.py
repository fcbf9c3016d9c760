"""Helper programs that tests start as subprocesses."""
