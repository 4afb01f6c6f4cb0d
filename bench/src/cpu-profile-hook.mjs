// Preloaded into the services with NODE_OPTIONS="--import <this file>" when the bench profiles
// (Node 20 refuses --cpu-prof in NODE_OPTIONS). Starts V8's sampling profiler at once and writes
// <BENCH_CPU_PROF_DIR>/<pid>.cpuprofile when the process exits (the services exit through
// process.exit after a SIGTERM, which runs 'exit' handlers; the inspector answers synchronously).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
