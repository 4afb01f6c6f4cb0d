/** The two output streams of a job, and their one-byte codes in the binary frames and the job_output table. */
export type OutputStream = 'stdout' | 'stderr';
export const STREAM_CODE: Record<OutputStream, 1 | 2> = { stdout: 1, stderr: 2 };
export const STREAM_NAME: Record<number, OutputStream> = { 1: 'stdout', 2: 'stderr' };
