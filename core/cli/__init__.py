"""The ``tensorloupe`` command line. Each subcommand lives in its own module and is imported
only when used, so that ``tensorloupe show`` never pays for the engine or Qt."""
