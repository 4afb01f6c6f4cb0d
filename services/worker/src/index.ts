export { startWorker, type WorkerHandle } from './start-worker.ts';
export { workerEnv, type WorkerConfig } from './env.ts';
export type { Executor, ExecutionRequest, ExecutionResult, StopRequest } from './executors/executor.ts';
export { OutputPump } from './executors/output-pump.ts';
