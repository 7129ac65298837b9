"""What each command does, without the command line: gpubal.cli parses the options and calls one of these.
They raise gpubal.sources.InputError for input they cannot use and return the exit status."""
