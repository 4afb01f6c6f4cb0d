/**
 * What `vmo`'s exit status means (documented in the README and in `vmo run --help`; scripts depend
 * on these numbers). A job's own exit code passes through (0–125); a job killed by a signal is
 * 128 + its number, as a shell reports it. The codes below are vmo's own, chosen where a shell's
 * conventions leave room.
 */
export const ExitCode = {
  ok: 0,
  /** The run (fleet) had at least one child that did not succeed. */
  runFailed: 1,
  /** Bad usage: an unknown option, a missing argument (commander's own code). */
  usage: 2,
  /** The job (or run) was canceled (by Ctrl-C or by someone else). Also what a shell reports for a command killed by SIGINT (128 + 2). */
  canceled: 130,
  /**
   * A second Ctrl-C detached vmo: the job (or run) goes on. Its own code (EX_TEMPFAIL), not 130, so a
   * script tells a job still running from one that was canceled.
   */
  detached: 75,
  /** vmo itself failed: the API answered an error, the server is unreachable, the config is bad. */
  cliError: 70,
  /** The job ended `lost`: its agent or worker vanished past the grace. */
  lost: 71,
  /** The job ended `timed_out`. */
  timedOut: 72,
  /** The job could not start: its agent was offline past the dispatch timeout (`failed`, error `agent_offline`). */
  agentOffline: 73,
  /** The job failed without an exit code or signal of its own: its `error` says why (`spawn_failed`, `ssh_connection_lost`, `agent_revoked`, …). */
  jobError: 74,
  /** vmo's stdout was closed by its reader (`vmo run … | head`): 128 + SIGPIPE, as a shell reports it. The job goes on. */
  stdoutClosed: 141,
} as const;

/** The table `vmo run --help` prints. */
export const EXIT_CODE_HELP = `Exit status:
  0-125    the command's own exit code
  128+N    the command was killed by signal N (137: SIGKILL, 143: SIGTERM)
  130      canceled (Ctrl-C, or vmo cancel)
  75       detached by a second Ctrl-C: the job (or run) goes on
  70       vmo failed: the API refused or could not be reached (the error is on stderr)
  71       the job was lost (its agent or worker vanished)
  72       the job timed out (--timeout)
  73       the agent was offline past the dispatch timeout
  74       the job failed without an exit code (its error is on stderr)
  141      vmo's stdout was closed (| head); the job goes on
  2        bad usage`;
