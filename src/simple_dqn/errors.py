"""The one error type that reaches the user as a one-line message and exit status 2."""


class UsageError(Exception):
    """Bad input from the user: a wrong path, option value or file.

    The message is one line that names the problem and the fix. main() prints it as
    ``simple_dqn: error: <message>`` and exits with status 2, without a traceback.
    """

    exit_status = 2
