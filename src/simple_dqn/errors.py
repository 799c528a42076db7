"""The error types of the run: UsageError reaches the user as one line and exit status 2."""


class UsageError(Exception):
    """Bad input from the user: a wrong path, option value or file.

    The message is one line that names the problem and the fix. main() prints it as
    ``simple_dqn: error: <message>`` and exits with status 2, without a traceback.
    """

    exit_status = 2


class StateMismatch(ValueError):
    """A saved state (checkpoint component) made for another configuration of the run, such as
    another --num_envs or --replay_size; the message names the option to change."""


def report_usage_errors(run, prog: str = "simple_dqn") -> int:
    """Call ``run()``; turn a UsageError into its one-line message and exit status 2.

    Ctrl-C becomes a one-line note and status 130. Returns run()'s status otherwise.
    """
    import sys

    try:
        return run() or 0
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return UsageError.exit_status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; files written so far are whole", file=sys.stderr)
        return 130
