"""The command line: the daemon's entry (``aws-reservation-exporter``) and the
commands for people (``report``, ``doctor``), with what they share: flags, exit
codes, the MFA prompter, terminal output and how a command gets its config.

Nothing below ``exporter.commands`` imports it: the daemon's modules, the
demo environment and the fake stay usable without the CLI.
"""
