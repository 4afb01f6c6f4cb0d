/**
 * What `vmo`'s exit status means (documented in the README; scripts depend on these numbers).
 * A job's own exit code passes through (0–125); a job killed by a signal is 128 + its number, as a
 * shell reports it. The codes below are vmo's own, chosen where a shell's conventions leave room.
 */
export const ExitCode = {
  ok: 0,
  /** The run (fleet) had at least one child that did not succeed. */
  runFailed: 1,
  /** Bad usage: an unknown option, a missing argument (commander's own code). */
  usage: 2,
  /** The job was canceled (by Ctrl-C or by someone else). */
  canceled: 130,
  /** vmo itself failed: the API answered an error, the server is unreachable, the config is bad. */
  cliError: 70,
  /** The job ended `lost`: its agent or worker vanished past the grace. */
  lost: 71,
  /** The job ended `timed_out`. */
  timedOut: 72,
  /** The job could not start: its agent was offline past the dispatch timeout. */
  agentOffline: 73,
} as const;
